import { createHmac } from 'node:crypto';
import { AuditstreamError } from '@auditstream/core';
import { alertJson, post } from './http.js';
import type { Sink } from './types.js';

export const SIGNATURE_HEADER = 'x-auditstream-signature';

/**
 * Generic webhook: POST {"kind": "fired"|"updated", "alert": {...}} as JSON with
 *   X-Auditstream-Signature: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>
 *   X-Auditstream-Alert-Id, X-Auditstream-Delivery (fired|updated)
 * Receivers verify the signature over the exact bytes received and dedupe on alert_id.
 */
export function createWebhookSink(options: { url: string; secret: string; timeout_ms: number; send_updates: boolean; ca?: Buffer | undefined }): Sink {
  if (!options.secret) throw new AuditstreamError('CONFIG_INVALID', 'alerting.sinks.webhook.secret is required', { field: 'alerting.sinks.webhook.secret' });
  return {
    name: 'webhook',
    sendUpdates: options.send_updates,
    async send({ kind, alert }, signal) {
      const body = JSON.stringify({ kind, alert: alertJson(alert) });
      await post(
        'webhook',
        options.url,
        body,
        {
          [SIGNATURE_HEADER]: signBody(options.secret, body),
          'x-auditstream-alert-id': alert.alert_id,
          'x-auditstream-delivery': kind,
        },
        options.timeout_ms,
        signal,
        options.ca,
      );
    },
  };
}

export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
