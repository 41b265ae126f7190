import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { AuditstreamError } from '@auditstream/core';
import { type ParseOptions, parseRules } from './parse.js';
import type { RuleSet } from './types.js';

export interface RulesReloaderOptions {
  path: string;
  parse?: Omit<ParseOptions, 'source'>;
  debounce_ms: number;
  /** A new, valid rule set (the engine swaps to it). */
  onChange: (rules: RuleSet) => void;
  /** The file changed but is invalid or unreadable: the last good rules stay active. */
  onError: (err: AuditstreamError) => void;
}

export interface RulesReloader {
  current(): RuleSet;
  /** Re-reads now (what the watcher does after the debounce). */
  reload(): { ok: true; changed: boolean } | { ok: false; error: AuditstreamError };
  close(): void;
}

/**
 * Loads the rules file, then watches it: fs.watch on its folder (editors and Kubernetes
 * ConfigMaps replace the file rather than write it in place, which a watch on the file
 * itself would miss), debounced, and re-parsed only when the content changed. A file that
 * fails to parse is rejected with its error and the last good rules stay active.
 * The first load throws: the service does not start without valid rules.
 */
export function createRulesReloader(options: RulesReloaderOptions): RulesReloader {
  const { path } = options;
  let lastHash = '';
  let current = load();
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;

  function read(): string {
    try {
      return readFileSync(path, 'utf8');
    } catch (cause) {
      throw new AuditstreamError('RULES_UNREADABLE', `cannot read rules file ${path}`, { cause, field: 'alerting.rules_file' });
    }
  }

  function load(): RuleSet {
    const text = read();
    const set = parseRules(text, { ...options.parse, source: path });
    lastHash = createHash('sha256').update(text).digest('hex');
    return set;
  }

  function reload(): { ok: true; changed: boolean } | { ok: false; error: AuditstreamError } {
    try {
      const text = read();
      const hash = createHash('sha256').update(text).digest('hex');
      if (hash === lastHash) return { ok: true, changed: false };
      const set = parseRules(text, { ...options.parse, source: path });
      lastHash = hash;
      current = set;
      options.onChange(set);
      return { ok: true, changed: true };
    } catch (err) {
      const error =
        err instanceof AuditstreamError ? err : new AuditstreamError('RULES_INVALID', `rules file ${path}: ${(err as Error).message}`, { cause: err });
      options.onError(error);
      return { ok: false, error };
    }
  }

  try {
    const name = basename(path);
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      // Some platforms give no file name; ConfigMaps swap a `..data` symlink: re-read on those too.
      if (file && file !== name && !String(file).startsWith('..')) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        reload();
      }, options.debounce_ms);
    });
    watcher.on('error', () => {});
  } catch (cause) {
    throw new AuditstreamError('RULES_UNREADABLE', `cannot watch the folder of rules file ${path}`, { cause, field: 'alerting.rules_file' });
  }

  return {
    current: () => current,
    reload,
    close() {
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
