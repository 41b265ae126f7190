// shared/producer public API: filled in by its issue.
export {};
