import { readConfigFile } from '@auditstream/config';
import { z } from 'zod';
import { post } from './http.js';
import { defineSink, requiredWhenEnabled, type Sink, sinkQueueFields } from './types.js';

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

export const alertmanagerSink = defineSink({
  name: 'alertmanager',
  config: z
    .strictObject({
      enabled: z.boolean().default(false).describe('POST alerts to a Prometheus Alertmanager (API v2, /api/v2/alerts).'),
      url: z.string().url().optional().describe('Alertmanager base URL, e.g. http://127.0.0.1:9093.'),
      ca_file: z.string().min(1).optional().describe('PEM CA bundle that verifies an https url (unset: the system CAs); the certificate is always verified.'),
      send_updates: z.boolean().default(true).describe('Re-post updated alerts, which extends their endsAt.'),
      resolve_after_s: z.number().int().positive().default(3600).describe('endsAt = last event of the alert + this; Alertmanager resolves the alert then.'),
      ...sinkQueueFields,
    })
    .superRefine(requiredWhenEnabled('url'))
    .prefault({}),
  create: (c) =>
    createAlertmanagerSink({
      url: c.url as string,
      timeout_ms: c.timeout_ms,
      send_updates: c.send_updates,
      resolve_after_s: c.resolve_after_s,
      ca: c.ca_file ? readConfigFile(c.ca_file, 'alerting.sinks.alertmanager.ca_file') : undefined,
    }),
});
