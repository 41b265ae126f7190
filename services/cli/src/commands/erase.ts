import { type AuditEventInput, createClickHouse } from '@auditstream/clickhouse';
import { resolveSecret } from '@auditstream/config';
import { AuditstreamError } from '@auditstream/core';
import { eraseSubject } from '@auditstream/crypto';
import { createKafkaClient } from '@auditstream/kafka';
import { createLogger } from '@auditstream/observability';
import { createAuditProducer } from '@auditstream/producer';
import { type Command, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream erase --subject <id> --reason <text> [--tenant <id>] [--config <file>]

Erasure by crypto-shredding (docs/field-encryption.md): destroys every data key of the subject
(the value of encryption.subject_field, the actor id by default), in one tenant or in every tenant
it has keys in. Its encrypted fields become unreadable through the API, exports and raw
ClickHouse; every other field and the hash chain stay as they are (auditstream verify still
passes). A legal hold on an affected tenant blocks the erasure. The erasure is recorded as an
audit event (action subject.erase) before the command succeeds.

Processes that cached an unwrapped key (ingest, API) may use it for up to
encryption.key_cache_ttl_ms more. New events of the subject get a new key.

Options:
  --subject <id>    the data subject (e.g. the actor id)
  --tenant <id>     only this tenant (default: every tenant the subject has keys in)
  --reason <text>   why (e.g. the request reference); stored with the tombstone and the event
  --config <file>   config file; run as an account allowed ALTER … DELETE (auditstream_admin)`;

export const command: Command = {
  name: 'erase',
  summary: 'erase a data subject by destroying its encryption keys (crypto-shredding)',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      ...configOption,
      subject: { type: 'string' },
      tenant: { type: 'string' },
      reason: { type: 'string' },
    });
    if (positionals.length > 0) throw new AuditstreamError('USAGE', `unexpected argument "${positionals[0]}"`, { field: 'argument' });
    if (!values.subject) throw new AuditstreamError('USAGE', '--subject is required (the data subject, e.g. an actor id)', { field: 'subject' });
    if (!values.reason) throw new AuditstreamError('USAGE', '--reason is required (why the subject is erased)', { field: 'reason' });
    const cfg = cliConfig(values.config);
    const logger = createLogger({ service: 'cli', level: cfg.log.level === 'info' ? 'warn' : cfg.log.level });
    const ch = createClickHouse(cfg.clickhouse, { logger, component: 'erase' });
    const producer = createAuditProducer({
      ...cfg.producer,
      kafka: createKafkaClient(
        { ...cfg.kafka, sasl_password: resolveSecret(cfg.kafka.sasl_password, cfg.kafka.sasl_password_file, 'kafka.sasl_password') },
        { component: 'erase', logger },
      ),
      topic: cfg.topics.events,
      logger,
    });
    const recordEvent = async (event: AuditEventInput) => {
      const receipt = await producer.publish(event as unknown as Parameters<typeof producer.publish>[0]);
      console.error(`recorded as audit event ${receipt.event_id} (${receipt.topic}/${receipt.partition}@${receipt.offset})`);
    };
    try {
      const res = await eraseSubject({
        ch,
        subject: values.subject,
        tenant: values.tenant,
        reason: values.reason,
        recordEvent,
        actorId: process.env.USER ?? 'auditstream-cli',
        keyCacheTtlMs: cfg.encryption.key_cache_ttl_ms,
      });
      for (const id of res.keyIds) console.log(`  destroyed key ${id}`);
      console.log(res.message);
      return 0;
    } finally {
      const closed = await producer.close({ timeout_ms: 10_000 });
      if (closed.undelivered > 0) console.error(`${closed.undelivered} audit event(s) of this erasure could not be delivered to Kafka`);
      await ch.close();
    }
  },
};
