/**
 * The logging a library needs from its caller: a pino (child) logger fits, and so does a
 * test double. A component that only warns asks for `Pick<MinimalLogger, 'warn'>`.
 */
export interface MinimalLogger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}
