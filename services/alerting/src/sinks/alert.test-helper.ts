import type { Alert } from '../alert.js';

export const T = Date.parse('2026-03-02T10:00:00Z');

/** A fired brute-force alert for sink tests; `over` replaces fields. */
export function testAlert(over: Partial<Alert> = {}): Alert {
  return {
    alert_id: '0b0c1f2e-6a3d-8c4b-9d5e-0f1a2b3c4d5e',
    rule_id: 'brute_force',
    rule_name: 'Brute-force login attempts',
    rule_type: 'threshold',
    severity: 'high',
    tenant_id: 'acme',
    group_key: 'tenant_id=acme&actor.id=alice',
    group: { tenant_id: 'acme', 'actor.id': 'alice' },
    window_start: T,
    window_end: T + 50_000,
    count: 6,
    first_event_at: T,
    last_event_at: T + 50_000,
    sample_event_ids: ['e1', 'e2'],
    summary: '6 failed logins for alice <script>',
    details: {},
    fired_at: T + 51_000,
    updated_at: T + 51_000,
    version: 0,
    ...over,
  };
}
