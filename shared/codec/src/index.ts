// shared/codec public API: filled in by its issue.
export {};
