// services/cli public API: filled in by its issue.
export {};
