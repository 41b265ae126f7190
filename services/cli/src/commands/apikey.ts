import { createApiKey, listApiKeys, revokeApiKey } from '@auditstream/api';
import { type ClickHouse, createClickHouse } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import { type Command, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream apikey create --role <auditor|admin|service> [--tenant <id>]... [--pii] [--config <file>]
       auditstream apikey list [--config <file>]
       auditstream apikey revoke <id> [--config <file>]

Manages the query API's keys in <clickhouse.database>.api_keys. Only a SHA-256 hash of each
key's secret is stored: \`create\` prints the key once, ALONE on the last line of stdout
(e.g. KEY=$(auditstream apikey create --role auditor --tenant acme | tail -n 1)); it cannot be
shown again. Use it as: Authorization: Bearer <key>.

Roles:
  auditor   reads events and exports for its tenants (at least one --tenant; "*" = every tenant)
  admin     every tenant, plus alerts and integrity verification (no --tenant)
  service   publishes events for its --tenant(s) through POST /v1/events (the HTTP collector);
            reads nothing

  create    create a key; prints id, role and tenants, then the key
  list      every key: id, role, tenants, created, revoked
  revoke    revoke a key by id (the API stops accepting it within api.api_key_cache_ttl_ms)

Options:
  --role <role>     role of the new key
  --tenant <id>     tenant the key may read, or publish for (service) (repeat for several)
  --pii             the key may read encrypted personal fields in clear (auditor, admin);
                    without it they are masked (docs/field-encryption.md)
  --config <file>   config file; run as a ClickHouse account that may insert into api_keys`;

export const command: Command = {
  name: 'apikey',
  summary: 'create, list or revoke query API keys',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      ...configOption,
      role: { type: 'string' },
      tenant: { type: 'string', multiple: true },
      pii: { type: 'boolean' },
    });
    const [sub, ...rest] = positionals;
    const cfg = cliConfig(values.config);
    const logger = createLogger({ service: 'cli', level: cfg.log.level === 'info' ? 'warn' : cfg.log.level });
    const run = async <T>(fn: (ch: ClickHouse) => Promise<T>): Promise<T> => {
      const ch = createClickHouse(cfg.clickhouse, { logger, component: 'apikey' });
      try {
        return await fn(ch);
      } finally {
        await ch.close();
      }
    };
    switch (sub) {
      case 'create': {
        if (rest.length) throw new AuditstreamError('USAGE', 'create takes no positional arguments', { field: 'create' });
        if (!values.role) throw new AuditstreamError('USAGE', '--role is required (auditor, admin or service)', { field: 'role' });
        const k = await run((ch) => createApiKey(ch, { role: values.role as string, tenants: values.tenant ?? [], pii: values.pii ?? false }));
        console.log(`id:      ${k.id}`);
        console.log(`role:    ${k.role}`);
        console.log(`tenants: ${k.tenants.join(', ')}`);
        console.log(`pii:     ${k.pii ? 'yes (sees decrypted personal fields)' : 'no (personal fields masked)'}`);
        console.log('The key is shown once, on the next line; only its hash is stored.');
        console.log(k.key);
        return 0;
      }
      case 'list': {
        if (values.role || values.tenant || values.pii) throw new AuditstreamError('USAGE', 'list takes no --role, --tenant or --pii', { field: 'list' });
        const keys = await run((ch) => listApiKeys(ch));
        if (keys.length === 0) {
          console.log('No API keys. Create one with `auditstream apikey create --role <role>`.');
          return 0;
        }
        console.log(`${'id'.padEnd(16)}  ${'role'.padEnd(7)}  ${'created'.padEnd(20)}  ${'revoked'.padEnd(20)}  tenants`);
        for (const k of keys) {
          const revoked = k.revoked_at ? iso(k.revoked_at) : '-';
          console.log(
            `${k.id.padEnd(16)}  ${k.role.padEnd(7)}  ${iso(k.created_at).padEnd(20)}  ${revoked.padEnd(20)}  ${k.tenants.join(',')}${k.pii ? '  [pii]' : ''}`,
          );
        }
        return 0;
      }
      case 'revoke': {
        if (rest.length !== 1) throw new AuditstreamError('USAGE', 'revoke takes exactly one key id', { field: 'id' });
        const r = await run((ch) => revokeApiKey(ch, rest[0] as string));
        console.log(r.alreadyRevoked ? `Key ${r.id} was already revoked; nothing to do.` : `Revoked key ${r.id}.`);
        return 0;
      }
      default:
        throw new AuditstreamError('USAGE', sub ? `unknown subcommand "${sub}"` : 'a subcommand is required (create, list, revoke)', { field: 'subcommand' });
    }
  },
};

function iso(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}
