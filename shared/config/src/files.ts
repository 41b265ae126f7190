import { readFileSync } from 'node:fs';
import { AuditstreamError } from '@auditstream/core';

/**
 * A file named by a config key (a CA bundle, a key, a password file), read once at start.
 * Unreadable is CONFIG_UNREADABLE naming the key and the path, never the content.
 */
export function readConfigFile(file: string, key: string): Buffer;
export function readConfigFile(file: string, key: string, encoding: 'utf8'): string;
export function readConfigFile(file: string, key: string, encoding?: 'utf8'): Buffer | string {
  try {
    return encoding ? readFileSync(file, encoding) : readFileSync(file);
  } catch (cause) {
    throw new AuditstreamError('CONFIG_UNREADABLE', `cannot read ${key} (${file})`, { cause, field: key });
  }
}
