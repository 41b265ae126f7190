import { z } from 'zod';

export const port = () => z.number().int().min(0).max(65535);
export const positiveInt = () => z.number().int().positive();
export const listenHost = () => z.string().min(1).default('127.0.0.1');

export const logSection = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level for every component.'),
  })
  .default({ level: 'info' });

export const kafkaSection = z
  .strictObject({
    brokers: z
      .array(z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port'))
      .min(1)
      .default(['127.0.0.1:9092'])
      .describe('Bootstrap brokers, host:port (env: comma-separated).'),
    client_id: z.string().min(1).default('auditstream').describe('Kafka client id prefix; each component appends its name.'),
    connection_timeout_ms: positiveInt().default(3000).describe('TCP connect timeout per broker.'),
    request_timeout_ms: positiveInt().default(30000).describe('Timeout of one Kafka request.'),
    ssl: z.boolean().default(false).describe('Use TLS to the brokers.'),
    ssl_ca_file: z.string().optional().describe('PEM CA bundle used to verify the brokers (TLS).'),
    sasl_mechanism: z.enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512']).default('none').describe('SASL mechanism.'),
    sasl_username: z.string().optional().describe('SASL user name.'),
    sasl_password: z.string().optional().describe('SASL password (secret: prefer sasl_password_file or the environment).'),
    sasl_password_file: z.string().optional().describe('File holding the SASL password.'),
  })
  .prefault({});

export const topicsSection = z
  .strictObject({
    events: z.string().min(1).default('audit.events').describe('Topic producers publish audit events to.'),
    dlq: z.string().min(1).default('audit.events.dlq').describe('Dead-letter topic for poison messages.'),
    alerts: z.string().min(1).default('audit.alerts').describe('Topic alerts are published to.'),
    checkpoints: z.string().min(1).default('audit.checkpoints').describe('Topic signed integrity checkpoints are published to.'),
    partitions: positiveInt().default(6).describe('Partitions for topics auditstream creates.'),
    replication_factor: positiveInt().default(1).describe('Replication factor for topics auditstream creates.'),
    retention_ms: z.number().int().min(-1).default(604_800_000).describe('Kafka retention of the events topic (-1 keeps forever).'),
  })
  .prefault({});

export const clickhouseSection = z
  .strictObject({
    url: z.string().url().default('http://127.0.0.1:8123').describe('ClickHouse HTTP(S) endpoint.'),
    database: z
      .string()
      .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/)
      .default('audit')
      .describe('Database holding the audit tables.'),
    username: z.string().min(1).default('default').describe('ClickHouse user; services use the least-privileged account they need.'),
    password: z.string().default('').describe('ClickHouse password (secret: prefer password_file or the environment).'),
    password_file: z.string().optional().describe('File holding the ClickHouse password.'),
    ca_file: z.string().optional().describe('PEM CA bundle to verify ClickHouse over HTTPS.'),
    request_timeout_ms: positiveInt().default(30000).describe('HTTP request timeout to ClickHouse.'),
    max_execution_time_s: positiveInt().default(30).describe('Server-side max_execution_time for each query.'),
    compression: z
      .enum(['auto', 'gzip', 'none'])
      .default('auto')
      .describe(
        'HTTP body compression (requests gzip level 1, responses gzip): auto = none when clickhouse.url is on loopback (127.0.0.0/8, ::1, localhost), else gzip. With none, request bodies are still framed as gzip level 0 (no compression), so an INSERT cut short stores nothing (docs/storage.md).',
      ),
    insert_format: z
      .enum(['row_binary', 'json_each_row'])
      .default('row_binary')
      .describe(
        "Body format of ingest's events INSERT: row_binary (ClickHouse's binary rows: no text to parse, a third of the bytes) or json_each_row. Other inserts are JSONEachRow.",
      ),
    max_open_connections: positiveInt().default(10).describe('Keep-alive connection pool size.'),
    cluster: z
      .string()
      .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/)
      .optional()
      .describe(
        'ClickHouse cluster name (remote_servers): `migrate` creates Replicated tables in `<database>_local` and Distributed tables in `<database>` with DDL ON CLUSTER; inserts wait for every shard (docs/scaling.md).',
      ),
  })
  .prefault({});

export const stackSection = z
  .strictObject({
    kafka_controller_port: port().default(9093).describe('KRaft controller port of the local stack broker (the client port comes from kafka.brokers).'),
    clickhouse_tcp_port: port().default(9000).describe('Native-protocol port of the local stack ClickHouse (the HTTP port comes from clickhouse.url).'),
    cluster_base_port: port()
      .default(31000)
      .describe(
        '`stack up --cluster`: ZooKeeper on this port, Kafka broker i on base+10+i (controller base+20+i), ClickHouse server k on base+31+k (HTTP), base+41+k (native), base+51+k (interserver).',
      ),
    registry_port: port().default(8081).describe('Port of the optional local Apicurio schema registry (`stack up --with-registry`).'),
    start_timeout_ms: positiveInt().default(180_000).describe('How long `stack up` waits for each server to answer.'),
    stop_grace_ms: positiveInt().default(30_000).describe('How long `stack down` waits after SIGTERM before SIGKILL.'),
  })
  .prefault({});
