import { resolveSecret } from '@auditstream/config';
import { AuditstreamError } from '@auditstream/core';
import { z } from 'zod';
import type { Alert, AlertDelivery } from '../alert.js';
import { post } from './http.js';
import { defineSink, requiredWhenEnabled, type Sink, sinkQueueFields } from './types.js';

/** Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): {"text": "..."}. */
export function createSlackSink(options: { url: string; timeout_ms: number; send_updates: boolean }): Sink {
  return {
    name: 'slack',
    sendUpdates: options.send_updates,
    async send(delivery, signal) {
      await post('slack', options.url, JSON.stringify({ text: slackText(delivery) }), {}, options.timeout_ms, signal);
    },
  };
}

const ICON: Record<Alert['severity'], string> = {
  info: ':information_source:',
  low: ':large_blue_circle:',
  medium: ':warning:',
  high: ':rotating_light:',
  critical: ':fire:',
};

/** Slack mrkdwn: &, < and > must be escaped in any text we did not write ourselves. */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackText({ kind, alert }: AlertDelivery): string {
  const head = `${ICON[alert.severity]} *[${alert.severity.toUpperCase()}] ${esc(alert.rule_name)}*${kind === 'updated' ? ' (update)' : ''}`;
  const lines = [
    head,
    esc(alert.summary),
    `tenant \`${esc(alert.tenant_id)}\` · ${alert.count} event(s) · ${new Date(alert.first_event_at).toISOString()} → ${new Date(alert.last_event_at).toISOString()}`,
    `rule \`${alert.rule_id}\` · alert \`${alert.alert_id}\``,
  ];
  return lines.join('\n');
}

export const slackSink = defineSink({
  name: 'slack',
  config: z
    .strictObject({
      enabled: z.boolean().default(false).describe('POST alerts to a Slack-compatible incoming webhook ({"text": ...}).'),
      url: z.string().url().optional().describe('Incoming-webhook URL (secret: prefer url_file or the environment).'),
      url_file: z.string().optional().describe('File holding the incoming-webhook URL.'),
      send_updates: z.boolean().default(false).describe('Also post updates of an alert.'),
      ...sinkQueueFields,
    })
    .superRefine(requiredWhenEnabled(['url', 'url_file']))
    .prefault({}),
  create(c) {
    const url = resolveSecret(c.url, c.url_file, 'alerting.sinks.slack.url');
    if (!url) throw new AuditstreamError('CONFIG_INVALID', 'alerting.sinks.slack.url_file is empty', { field: 'alerting.sinks.slack.url_file' });
    return createSlackSink({ url, timeout_ms: c.timeout_ms, send_updates: c.send_updates });
  },
});
