import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditstreamError } from '@auditstream/core';
import { createKafkaClient } from '@auditstream/kafka';
import { ensureTool } from './tools.js';

export interface KafkaPaths {
  home: string;
  jars: string;
  data: string;
  logs: string;
  properties: string;
  log4j: string;
}

export function kafkaPaths(stateDir: string): KafkaPaths {
  const home = join(stateDir, 'kafka');
  return {
    home,
    jars: join(home, 'jars'),
    data: join(home, 'data'),
    logs: join(home, 'logs'),
    properties: join(home, 'server.properties'),
    log4j: join(home, 'log4j2.properties'),
  };
}

/**
 * The broker's classpath: an unpacked distribution's libs/ when KAFKA_HOME is set,
 * otherwise the jars Maven copies from deploy/kafka/pom.xml into .auditstream/ (once
 * per pom content, so a version bump refreshes the cache).
 */
export function resolveKafkaClasspath(paths: KafkaPaths, pom: string, log: (msg: string) => void): string {
  const kafkaHome = process.env.KAFKA_HOME;
  if (kafkaHome) {
    const libs = join(kafkaHome, 'libs');
    if (!existsSync(libs))
      throw new AuditstreamError('STACK_KAFKA_HOME', `KAFKA_HOME=${kafkaHome} has no libs/ folder; point it at an unpacked Apache Kafka distribution`);
    return `${libs}/*`;
  }
  const digest = createHash('sha256').update(readFileSync(pom)).digest('hex').slice(0, 16);
  const marker = join(paths.jars, `.resolved-${digest}`);
  if (!existsSync(marker)) {
    const mvn = ensureTool('mvn', 'maven', 'Maven (needed to fetch the Kafka broker from Maven Central)', log);
    log('resolving the Kafka broker jars from Maven Central (first run only)');
    rmSync(paths.jars, { recursive: true, force: true });
    mkdirSync(paths.jars, { recursive: true });
    try {
      execFileSync(mvn, ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${paths.jars}`, '-DincludeScope=runtime'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (cause) {
      const out = String((cause as { stdout?: Buffer }).stdout ?? '') + String((cause as { stderr?: Buffer }).stderr ?? '');
      throw new AuditstreamError('STACK_KAFKA_JARS', `mvn could not resolve the Kafka jars from ${pom}:\n${out.slice(-2000)}`, { cause, retriable: true });
    }
    writeFileSync(marker, new Date().toISOString());
  }
  return `${paths.jars}/*`;
}

export function kafkaVersion(paths: KafkaPaths): string | undefined {
  const dir = process.env.KAFKA_HOME ? join(process.env.KAFKA_HOME, 'libs') : paths.jars;
  if (!existsSync(dir)) return undefined;
  const jar = readdirSync(dir).find((f) => /^kafka_2\.\d+-[\d.]+\.jar$/.test(f));
  return jar?.replace(/^kafka_2\.\d+-/, '').replace(/\.jar$/, '');
}

/** What the secure stack's broker needs: PEM files and the broker's own SCRAM credentials. */
export interface KafkaSecureConfig {
  /** PEM holding the private key then the certificate (Kafka's PEM keystore). */
  keystorePem: string;
  caCert: string;
  brokerUser: string;
  brokerPassword: string;
}

export const SCRAM_MECHANISM = 'SCRAM-SHA-512';

/**
 * The listener lines. Plain: PLAINTEXT for clients and the controller. Secure: clients reach only
 * a SASL_SSL listener (SCRAM-SHA-512 over TLS); the controller listener is TLS with client
 * certificates required, so a plaintext (or certificate-less) client is refused on every port.
 */
export function kafkaListenerProps(opts: { host: string; port: number; controllerPort: number; secure?: KafkaSecureConfig | undefined }): string[] {
  if (!opts.secure) {
    return [
      `listeners=PLAINTEXT://${opts.host}:${opts.port},CONTROLLER://${opts.host}:${opts.controllerPort}`,
      `advertised.listeners=PLAINTEXT://${opts.host}:${opts.port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name=PLAINTEXT',
    ];
  }
  const s = opts.secure;
  const jaas = `org.apache.kafka.common.security.scram.ScramLoginModule required username="${s.brokerUser}" password="${s.brokerPassword}";`;
  return [
    `listeners=SASL_SSL://${opts.host}:${opts.port},CONTROLLER://${opts.host}:${opts.controllerPort}`,
    `advertised.listeners=SASL_SSL://${opts.host}:${opts.port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL',
    'inter.broker.listener.name=SASL_SSL',
    `sasl.enabled.mechanisms=${SCRAM_MECHANISM}`,
    `sasl.mechanism.inter.broker.protocol=${SCRAM_MECHANISM}`,
    `listener.name.sasl_ssl.${SCRAM_MECHANISM.toLowerCase()}.sasl.jaas.config=${jaas}`,
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${s.keystorePem}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${s.caCert}`,
    'ssl.enabled.protocols=TLSv1.3,TLSv1.2',
    'ssl.endpoint.identification.algorithm=https',
    'listener.name.controller.ssl.client.auth=required',
  ];
}

export function writeKafkaConfig(
  paths: KafkaPaths,
  opts: { host: string; port: number; controllerPort: number; secure?: KafkaSecureConfig | undefined },
): void {
  mkdirSync(paths.logs, { recursive: true });
  const props = [
    '# Generated by `auditstream stack up`; edits are overwritten.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${opts.host}:${opts.controllerPort}`,
    ...kafkaListenerProps(opts),
    `log.dirs=${paths.data}`,
    '# Our code creates its topics explicitly, with the partitions and retention it wants.',
    'auto.create.topics.enable=false',
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=5',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    '# A single local broker: let the first consumer of a group start at once.',
    'group.initial.rebalance.delay.ms=0',
    'log.retention.hours=168',
    '',
  ].join('\n');
  // The secure broker's file holds its SCRAM password.
  writeFileSync(paths.properties, props, { mode: 0o600 });
  chmodSync(paths.properties, 0o600);
  const log4j = [
    'status = warn',
    'appender.file.type = RollingFile',
    'appender.file.name = file',
    `appender.file.fileName = ${join(paths.logs, 'server.log')}`,
    `appender.file.filePattern = ${join(paths.logs, 'server.log.%i')}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'appender.file.policies.type = Policies',
    'appender.file.policies.size.type = SizeBasedTriggeringPolicy',
    'appender.file.policies.size.size = 50MB',
    'appender.file.strategy.type = DefaultRolloverStrategy',
    'appender.file.strategy.max = 3',
    'rootLogger.level = info',
    'rootLogger.appenderRef.file.ref = file',
    'logger.kafka.name = kafka',
    'logger.kafka.level = info',
    'logger.state.name = state.change.logger',
    'logger.state.level = warn',
    '',
  ].join('\n');
  writeFileSync(paths.log4j, log4j);
}

/** Formats the KRaft metadata directory once; a formatted directory is left alone. */
/** `--add-scram` arguments of the storage tool for each user (KRaft: credentials are written at format time). */
export function scramFormatArgs(users: readonly { name: string; password: string }[]): string[] {
  return users.flatMap((u) => ['--add-scram', `${SCRAM_MECHANISM}=[name=${u.name},password=${u.password}]`]);
}

/** Replaces each secret in text by [redacted] (tool output may echo its arguments). */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out;
}

export function formatKafkaStorage(paths: KafkaPaths, java: string, classpath: string, scramUsers: readonly { name: string; password: string }[] = []): void {
  if (existsSync(join(paths.data, 'meta.properties'))) return;
  mkdirSync(paths.data, { recursive: true });
  // A base64url id may start with '-', which the tool's argument parser takes for an option.
  let clusterId = '';
  do clusterId = Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url');
  while (!/^[A-Za-z0-9]/.test(clusterId));
  try {
    execFileSync(
      java,
      [
        '-cp',
        classpath,
        `-Dlog4j2.configurationFile=${paths.log4j}`,
        'kafka.tools.StorageTool',
        'format',
        `--cluster-id=${clusterId}`,
        '-c',
        paths.properties,
        ...scramFormatArgs(scramUsers),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  } catch (cause) {
    const out = String((cause as { stderr?: Buffer }).stderr ?? '') + String((cause as { stdout?: Buffer }).stdout ?? '');
    const secrets = scramUsers.map((u) => u.password);
    // The cause carries the command line, passwords included: keep only the redacted output.
    throw new AuditstreamError('STACK_KAFKA_FORMAT', `formatting the KRaft storage in ${paths.data} failed:\n${redactSecrets(out, secrets).slice(-2000)}`);
  }
}

export function kafkaJavaArgs(paths: KafkaPaths, classpath: string): string[] {
  const heap = (process.env.AUDITSTREAM_KAFKA_HEAP ?? '-Xms256m -Xmx1g').split(/\s+/).filter(Boolean);
  return [
    ...heap,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${paths.log4j}`,
    `-Dkafka.logs.dir=${paths.logs}`,
    '-cp',
    classpath,
    'kafka.Kafka',
    paths.properties,
  ];
}

/** How the stack's own health checks reach a secure broker. */
export interface KafkaClientSecurity {
  caFile: string;
  username: string;
  passwordFile: string;
}

/** Healthy when the broker answers a metadata request. */
export async function kafkaHealthy(host: string, port: number, security?: KafkaClientSecurity): Promise<boolean> {
  const kafka = createKafkaClient(
    {
      brokers: [`${host}:${port}`],
      client_id: 'auditstream',
      connection_timeout_ms: 1000,
      request_timeout_ms: 3000,
      ...(security
        ? {
            ssl: true,
            ssl_ca_file: security.caFile,
            sasl_mechanism: 'scram-sha-512' as const,
            sasl_username: security.username,
            sasl_password_file: security.passwordFile,
          }
        : {}),
    },
    { component: 'stack' },
  );
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
