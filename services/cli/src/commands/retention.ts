import {
  type AuditEventInput,
  activeLegalHolds,
  applyRetention,
  createClickHouse,
  loadRetentionPolicy,
  placeLegalHold,
  releaseLegalHold,
} from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import { createKafkaClient } from '@auditstream/kafka';
import { createLogger } from '@auditstream/observability';
import { createAuditProducer } from '@auditstream/producer';
import { type Command, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream retention apply [--dry-run] [--policy <file>] [--config <file>]
       auditstream retention holds [--config <file>]
       auditstream retention hold <tenant|*> --reason <text> [--policy <file>] [--config <file>]
       auditstream retention release <tenant|*> <hold-id> [--policy <file>] [--config <file>]

Applies the retention policy. Servers with TTL get per-tenant TTL expressions; older servers
(18.16) get whole expired months dropped, and only months expired for every tenant with rows in
them and holding no tenant under legal hold. Every run is recorded as an audit event.
hold/release change a legal hold, then re-apply the policy (so TTLs follow at once).

Options:
  --dry-run         show what would be dropped or set; change nothing (still recorded)
  --policy <file>   YAML/JSON: default_days {events, alerts, dlq_decisions} and
                    tenant_overrides {<tenant>: {events, alerts}}; days or null (forever).
                    Default: 365 days everywhere, no overrides.
  --reason <text>   why a hold is placed (stored with the hold)
  --config <file>   config file; run as an account allowed DDL (auditstream_admin)`;

export const command: Command = {
  name: 'retention',
  summary: 'apply retention (drop expired partitions / set TTL), manage legal holds',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      ...configOption,
      'dry-run': { type: 'boolean' },
      policy: { type: 'string' },
      reason: { type: 'string' },
    });
    const [sub, ...args] = positionals;
    if (!sub || !['apply', 'holds', 'hold', 'release'].includes(sub))
      throw new AuditstreamError('USAGE', sub ? `unknown subcommand "${sub}"` : 'a subcommand is required', { field: 'subcommand' });
    const cfg = cliConfig(values.config);
    const logger = createLogger({ service: 'cli', level: cfg.log.level === 'info' ? 'warn' : cfg.log.level });
    const ch = createClickHouse(cfg.clickhouse, { logger, component: 'retention' });
    const policy = loadRetentionPolicy(values.policy);
    // Every run is itself an audit event, published through the SDK and acknowledged by Kafka
    // before the command reports success.
    const producer = createAuditProducer({
      ...cfg.producer,
      kafka: createKafkaClient(cfg.kafka, { component: 'retention', logger }),
      topic: cfg.topics.events,
      logger,
    });
    const recordEvent = async (event: AuditEventInput) => {
      const receipt = await producer.publish(event as unknown as Parameters<typeof producer.publish>[0]);
      console.error(`recorded as audit event ${receipt.event_id} (${receipt.topic}/${receipt.partition}@${receipt.offset})`);
    };
    const apply = async (dryRun: boolean) => {
      const res = await applyRetention(ch, { policy, dryRun, recordEvent, actorId: process.env.USER ?? 'auditstream-cli' });
      for (const d of res.decisions) console.log(`  ${d.drop ? 'drop' : 'keep'} ${d.table} ${d.partition}: ${d.reason}`);
      if (res.mode === 'ttl' || dryRun) for (const s of res.statements) console.log(`  ${dryRun ? 'would run' : 'ran'}: ${s}`);
      console.log(res.message);
    };
    try {
      switch (sub) {
        case 'apply':
          await apply(values['dry-run'] ?? false);
          return 0;
        case 'holds': {
          const holds = await activeLegalHolds(ch);
          for (const h of holds) console.log(`  ${h.tenant_id}\t${h.hold_id}\t${h.created_at}\t${h.reason}`);
          console.log(`${holds.length} active legal hold(s).`);
          return 0;
        }
        case 'hold': {
          const tenant = args[0];
          if (!tenant || !values.reason) throw new AuditstreamError('USAGE', 'hold needs a tenant (or *) and --reason', { field: 'reason' });
          const h = await placeLegalHold(ch, { tenant_id: tenant, reason: values.reason });
          console.log(`Placed legal hold ${h.hold_id} on ${tenant}.`);
          await apply(false);
          return 0;
        }
        default: {
          const [tenant, holdId] = args;
          if (!tenant || !holdId) throw new AuditstreamError('USAGE', 'release needs a tenant and a hold id', { field: 'hold-id' });
          const ok = await releaseLegalHold(ch, { tenant_id: tenant, hold_id: holdId });
          console.log(ok ? `Released legal hold ${holdId} on ${tenant}.` : `No active hold ${holdId} on ${tenant}.`);
          if (ok) await apply(false);
          return ok ? 0 : 1;
        }
      }
    } finally {
      const closed = await producer.close({ timeout_ms: 10_000 });
      if (closed.undelivered > 0) console.error(`${closed.undelivered} audit event(s) of this run could not be delivered to Kafka`);
      await ch.close();
    }
  },
};
