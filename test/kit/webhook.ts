import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookHit {
  kind: string;
  alert: { alert_id: string; rule_id: string; group: Record<string, string>; count: number };
  receivedAt: number;
}

/**
 * A webhook receiver on 127.0.0.1 (a free port) that checks X-Auditstream-Signature
 * (sha256=<HMAC-SHA256 of the raw body>) the way a receiver would, independently of the
 * sink's code, and answers 401 to what does not verify.
 */
export async function webhookReceiver(secret: string) {
  const hits: WebhookHit[] = [];
  let rejected = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
      const got = Buffer.from(String(req.headers['x-auditstream-signature'] ?? ''));
      if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
        rejected++;
        res.writeHead(401).end();
        return;
      }
      hits.push({ ...(JSON.parse(body.toString('utf8')) as Omit<WebhookHit, 'receivedAt'>), receivedAt: Date.now() });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits,
    rejected: () => rejected,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
