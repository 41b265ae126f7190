import { createHmac } from 'node:crypto';
import { readConfigFile, resolveSecret } from '@auditstream/config';
import { AuditstreamError } from '@auditstream/core';
import { z } from 'zod';
import { alertJson, post } from './http.js';
import { defineSink, requiredWhenEnabled, type Sink, sinkQueueFields } from './types.js';

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

export const webhookSink = defineSink({
  name: 'webhook',
  config: z
    .strictObject({
      enabled: z.boolean().default(false).describe('POST alerts as JSON to url, signed with X-Auditstream-Signature: sha256=<HMAC>.'),
      url: z.string().url().optional().describe('Webhook endpoint (http or https).'),
      secret: z.string().optional().describe('HMAC-SHA256 signing key (secret: prefer secret_file or the environment).'),
      secret_file: z.string().optional().describe('File holding the webhook signing key.'),
      ca_file: z.string().min(1).optional().describe('PEM CA bundle that verifies an https url (unset: the system CAs); the certificate is always verified.'),
      send_updates: z.boolean().default(false).describe('Also POST updates of an alert (receivers dedupe on alert_id).'),
      ...sinkQueueFields,
    })
    .superRefine(requiredWhenEnabled('url', ['secret', 'secret_file']))
    .prefault({}),
  create: (c) =>
    createWebhookSink({
      url: c.url as string,
      secret: resolveSecret(c.secret, c.secret_file, 'alerting.sinks.webhook.secret') as string,
      timeout_ms: c.timeout_ms,
      send_updates: c.send_updates,
      ca: c.ca_file ? readConfigFile(c.ca_file, 'alerting.sinks.webhook.ca_file') : undefined,
    }),
});
