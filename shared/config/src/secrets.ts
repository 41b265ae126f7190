import { readFileSync } from 'node:fs';
import { AuditstreamError } from '@auditstream/core';

/** A secret comes from its `*_file` variant when set (trailing newline dropped), else from the value. */
export function resolveSecret(value: string | undefined, file: string | undefined, key: string): string | undefined {
  if (file) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (cause) {
      throw new AuditstreamError('CONFIG_UNREADABLE', `cannot read ${key}_file (${file})`, { cause, field: `${key}_file` });
    }
  }
  return value;
}
