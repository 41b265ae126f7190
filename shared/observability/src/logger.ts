import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * One root pino logger per process, JSON to stdout; components take a child
 * (`logger.child({ component: 'ingest.sink' })`). Secret-looking keys are redacted
 * as a second line of defence: code must not log payloads or secrets at all.
 */
export function createLogger(options: { level?: string; service: string; destination?: pino.DestinationStream }): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'password',
        '*.password',
        'sasl_password',
        '*.sasl_password',
        'authorization',
        '*.authorization',
        'headers.authorization',
        'api_key',
        '*.api_key',
        'token',
        '*.token',
        'secret',
        '*.secret',
        'private_key',
        '*.private_key',
        'cursor_secret',
        '*.cursor_secret',
        'viewer_token_secret',
        '*.viewer_token_secret',
        'master_key',
        '*.master_key',
        'signing_key',
        '*.signing_key',
        'export_manifest_signing_key',
        '*.export_manifest_signing_key',
        'sasl',
        '*.sasl',
        'req.headers.authorization',
        'req.headers.cookie',
      ],
      censor: '[redacted]',
    },
    formatters: { level: (label) => ({ level: label }) },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
