// services/alerting public API: filled in by its issue.
export {};
