import { readConfigFile } from './files.js';

/** A secret comes from its `*_file` variant when set (trailing newline dropped), else from the value. */
export function resolveSecret(value: string | undefined, file: string | undefined, key: string): string | undefined {
  if (file) {
    return readConfigFile(file, `${key}_file`, 'utf8').replace(/\r?\n$/, '');
  }
  return value;
}
