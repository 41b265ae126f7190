import type { Alert, AlertDelivery } from '../alert.js';
import { post } from './http.js';
import type { Sink } from './types.js';

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
