import { BlockList, isIP } from 'node:net';
import { fieldString } from '../event.js';
import type { Filter } from './filters.js';
import { expectMap, fieldPath, join, list, onlyKeys, posInt, reqStr, SpecError } from './spec-error.js';
import type { MinSources } from './window.js';

/**
 * Per-rule allowlist: events of these actors or from these source addresses are ignored by
 * the rule (they neither count towards nor complete it), and counted in
 * `auditstream_alerting_allowlisted_events_total{rule_id}`.
 *
 *   suppress:
 *     actors: [backup-agent, svc-scanner]          # actor.id
 *     ips: [198.51.100.7, 10.0.0.0/8, 2001:db8::/32]  # actor.ip: addresses or CIDR blocks
 */
export function compileSuppress(raw: unknown, path: string): Filter {
  const spec = expectMap(raw, path);
  onlyKeys(spec, ['actors', 'ips'], path);
  if (spec.actors === undefined && spec.ips === undefined) throw new SpecError(path, 'needs actors or ips');
  const actors = new Set(
    spec.actors === undefined ? [] : list(spec.actors, join(path, 'actors'), { min: 1 }).map((a, i) => reqStr(a, join(join(path, 'actors'), i))),
  );
  const blocks = new BlockList();
  let anyIp = false;
  if (spec.ips !== undefined) {
    list(spec.ips, join(path, 'ips'), { min: 1 }).forEach((v, i) => {
      const p = join(join(path, 'ips'), i);
      const s = reqStr(v, p);
      const [addr = '', prefix, extra] = s.split('/');
      const family = isIP(addr);
      if (family === 0 || extra !== undefined) throw new SpecError(p, 'must be an IP address or a CIDR block such as 10.0.0.0/8');
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) blocks.addAddress(addr, type);
      else {
        const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : -1;
        if (bits < 0 || bits > (family === 4 ? 32 : 128)) throw new SpecError(p, `has an invalid prefix length (0-${family === 4 ? 32 : 128})`);
        blocks.addSubnet(addr, bits, type);
      }
      anyIp = true;
    });
  }
  return (e) => {
    if (actors.size > 0) {
      const a = fieldString(e, 'actor.id');
      if (a !== undefined && actors.has(a)) return true;
    }
    if (!anyIp) return false;
    const ip = fieldString(e, 'actor.ip');
    const family = ip === undefined ? 0 : isIP(ip);
    return family !== 0 && blocks.check(ip as string, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/**
 * `min_sources: { field: actor.ip, count: 3 }` (threshold and sequence rules): the events that
 * complete the rule must come from at least `count` distinct values of `field` (a distributed
 * attack, not one user mistyping from one place). Events without the field are no source.
 */
export function parseMinSources(raw: unknown, path: string): MinSources {
  const spec = expectMap(raw, path);
  onlyKeys(spec, ['field', 'count'], path);
  return { field: fieldPath(spec.field, join(path, 'field')), count: posInt(spec.count, join(path, 'count')) };
}
