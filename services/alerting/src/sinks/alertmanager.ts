import { post } from './http.js';
import type { Sink } from './types.js';

/**
 * Prometheus Alertmanager, API v2: POST {url}/api/v2/alerts with one postable alert.
 * Labels identify the alert (Alertmanager dedupes on the label set): alertname (the rule
 * name), severity, rule_id, alert_id, tenant_id, source. endsAt is the last event plus
 * `resolve_after_s`, so an alert no longer updated resolves by itself; an update re-posts
 * it with a later endsAt.
 */
export function createAlertmanagerSink(options: {
  url: string;
  timeout_ms: number;
  send_updates: boolean;
  resolve_after_s: number;
  ca?: Buffer | undefined;
}): Sink {
  const endpoint = `${options.url.replace(/\/+$/, '')}/api/v2/alerts`;
  return {
    name: 'alertmanager',
    sendUpdates: options.send_updates,
    async send({ alert }, signal) {
      const endsAt = Math.max(alert.last_event_at, alert.updated_at) + options.resolve_after_s * 1000;
      const body = [
        {
          labels: {
            alertname: alert.rule_name,
            severity: alert.severity,
            rule_id: alert.rule_id,
            alert_id: alert.alert_id,
            tenant_id: alert.tenant_id,
            source: 'auditstream',
          },
          annotations: {
            summary: alert.summary,
            group_key: alert.group_key,
            count: String(alert.count),
            sample_event_ids: alert.sample_event_ids.join(','),
          },
          startsAt: new Date(alert.first_event_at).toISOString(),
          endsAt: new Date(endsAt).toISOString(),
        },
      ];
      await post('alertmanager', endpoint, JSON.stringify(body), {}, options.timeout_ms, signal, options.ca);
    },
  };
}
