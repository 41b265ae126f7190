import { type ParseArgsConfig, parseArgs } from 'node:util';
import { AuditstreamError } from '@auditstream/core';

/** One CLI command: a file in commands/ exporting `command`. Commands hold no business logic. */
export interface Command {
  name: string;
  /** One line for `auditstream --help`. */
  summary: string;
  /** Full text for `auditstream <name> --help`: usage line, options with defaults. */
  help: string;
  run: (argv: string[]) => Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs that rejects unknown options with a message naming the option. */
export function parseOptions<O extends Options>(
  argv: string[],
  options: O,
  allowPositionals = true,
): { values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : O[K]['multiple'] extends true ? string[] : string }; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true }) as never;
  } catch (cause) {
    throw new AuditstreamError('USAGE', (cause as Error).message, { cause });
  }
}

/** Parses a positive integer option, naming the option when it is not one. */
export function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new AuditstreamError('USAGE', `--${name} must be a non-negative integer, got "${value}"`, { field: name });
  return n;
}
