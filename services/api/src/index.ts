// services/api public API: filled in by its issue.
export {};
