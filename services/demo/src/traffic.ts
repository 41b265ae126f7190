import type { PublishInput } from '@auditstream/producer';
import type { Category, Outcome } from '@auditstream/schemas';

/**
 * Realistic mixed audit traffic for `auditstream demo`: logins (some failing), document
 * reads and edits, configuration changes, exports, role grants, admin actions, plus
 * injected attacks the alerting rules should catch:
 * - brute force: 8 failed auth.login for one user from one IP, ~1 s apart (≥ 6 within 60 s),
 *   sometimes followed by a success (the account fell);
 * - password spraying: one source IP failing auth.login for 15 different users (≥ 12).
 * Deterministic for a given seed.
 */
export interface TrafficOptions {
  seed?: number;
  tenants?: readonly string[];
  users_per_tenant?: number;
  /** Seconds between injected attacks (alternating brute force and spraying); 0 disables. Default 30. */
  attack_interval_s?: number;
  /** When the first attack starts, seconds after the first event. Default 5. */
  first_attack_s?: number;
}

export type AttackKind = 'brute_force' | 'password_spraying';

export interface AttackInfo {
  kind: AttackKind;
  tenant_id: string;
  source_ip: string;
  /** Targeted users (one for brute force). */
  actors: string[];
  events: number;
  started_at_ms: number;
}

export interface TrafficGenerator {
  /** The next event to publish at `nowMs`: a due attack event first, else background traffic. */
  next(nowMs: number): PublishInput;
  /** Attacks started so far. */
  readonly attacks: readonly AttackInfo[];
  /** Called when an attack is scheduled (for logging). */
  onAttack?: (a: AttackInfo) => void;
}

/** mulberry32: tiny, fast, good enough for synthetic traffic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface User {
  id: string;
  name: string;
  ip: string;
  agent: string;
  session: string;
  admin: boolean;
}

interface Kind {
  weight: number;
  make: (tenant: string, u: User) => PublishInput;
}

const FIRST = ['ada', 'grace', 'alan', 'linus', 'margaret', 'ken', 'barbara', 'dennis', 'frances', 'edsger', 'radia', 'tim', 'hedy', 'john', 'katherine'];
const LAST = ['lovelace', 'hopper', 'turing', 'torvalds', 'hamilton', 'thompson', 'liskov', 'ritchie', 'allen', 'dijkstra', 'perlman', 'berners', 'lamarr'];
const AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'auditstream-cli/0.1',
];
const SETTINGS = ['mfa.required', 'session.timeout', 'password.min_length', 'sso.provider', 'ip.allowlist'];
const ROLES = ['viewer', 'editor', 'admin', 'billing'];
const REGIONS = ['eu-west-1', 'us-east-1'];

export function createTrafficGenerator(options: TrafficOptions = {}): TrafficGenerator {
  const rnd = prng(options.seed ?? 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const tenants = options.tenants?.length ? options.tenants : ['acme', 'globex', 'initech'];
  const perTenant = options.users_per_tenant ?? 40;
  const attackEveryMs = (options.attack_interval_s ?? 30) * 1000;
  const firstAttackMs = (options.first_attack_s ?? 5) * 1000;
  let docSeq = 1000;

  const users = new Map<string, User[]>();
  for (const [t, tenant] of tenants.entries()) {
    const list: User[] = [];
    for (let i = 0; i < perTenant; i++) {
      const first = pick(FIRST);
      const last = pick(LAST);
      list.push({
        id: `${tenant}-u${String(i).padStart(4, '0')}`,
        name: `${first[0]?.toUpperCase()}${first.slice(1)} ${last[0]?.toUpperCase()}${last.slice(1)}`,
        ip: `10.${t + 10}.${Math.floor(i / 200)}.${(i % 200) + 20}`,
        agent: pick(AGENTS),
        session: `sess-${Math.floor(rnd() * 1e9).toString(36)}`,
        admin: i < 3,
      });
    }
    users.set(tenant, list);
  }

  const base = (
    tenant: string,
    u: User,
    action: string,
    category: Category,
    outcome: Outcome,
    service: string,
    extra: Partial<PublishInput> = {},
  ): PublishInput => ({
    tenant_id: tenant,
    actor: { id: u.id, type: 'user', name: u.name, ip: u.ip, user_agent: u.agent, session_id: u.session },
    action,
    category,
    outcome,
    service,
    host: `${service}-${Math.floor(rnd() * 3)}`,
    region: pick(REGIONS),
    request_id: `req-${Math.floor(rnd() * 1e12).toString(36)}`,
    ...extra,
  });

  const kinds: Kind[] = [
    {
      weight: 22,
      make: (t, u) => base(t, u, 'auth.login', 'authentication', 'success', 'sso', { attributes: { method: rnd() < 0.7 ? 'password+totp' : 'sso' } }),
    },
    {
      weight: 4,
      make: (t, u) =>
        base(t, u, 'auth.login', 'authentication', 'failure', 'sso', { reason: rnd() < 0.8 ? 'invalid_password' : 'mfa_failed', severity: 'low' }),
    },
    { weight: 5, make: (t, u) => base(t, u, 'auth.logout', 'authentication', 'success', 'sso') },
    {
      weight: 30,
      make: (t, u) =>
        base(t, u, 'document.read', 'resource_access', 'success', 'docs', { resource: { type: 'document', id: `doc-${Math.floor(rnd() * 500)}` } }),
    },
    {
      weight: 3,
      make: (t, u) =>
        base(t, u, 'document.read', 'resource_access', 'denied', 'docs', {
          resource: { type: 'document', id: `doc-${Math.floor(rnd() * 500)}` },
          reason: 'not_shared',
        }),
    },
    {
      weight: 9,
      make: (t, u) =>
        base(t, u, 'document.update', 'resource_access', 'success', 'docs', { resource: { type: 'document', id: `doc-${Math.floor(rnd() * 500)}` } }),
    },
    {
      weight: 2,
      make: (t, u) => base(t, u, 'document.create', 'resource_access', 'success', 'docs', { resource: { type: 'document', id: `doc-${docSeq++}` } }),
    },
    {
      weight: 4,
      make: (t, u) =>
        base(t, u, 'setting.update', 'configuration', 'success', 'admin-console', {
          resource: { type: 'setting', id: pick(SETTINGS) },
          severity: 'medium',
        }),
    },
    {
      weight: 3,
      make: (t, u) =>
        base(t, u, 'report.export', 'data_export', rnd() < 0.95 ? 'success' : 'error', 'reports', {
          resource: { type: 'report', id: `rpt-${Math.floor(rnd() * 40)}` },
          severity: 'medium',
          // mostly small; now and then a bulk export (the mass_data_export rule looks at record_count ≥ 10000)
          attributes: {
            format: rnd() < 0.5 ? 'csv' : 'xlsx',
            record_count: String(rnd() < 0.98 ? 10 + Math.floor(rnd() * 5000) : 10_000 + Math.floor(rnd() * 190_000)),
          },
        }),
    },
    {
      weight: 2,
      make: (t, u) => {
        const target = pick(users.get(t) as User[]);
        const role = pick(ROLES);
        return base(t, u, 'user.role.grant', 'authorization', u.admin ? 'success' : 'denied', 'iam', {
          resource: { type: 'user', id: target.id, name: target.name },
          severity: role === 'admin' ? 'high' : 'medium',
          attributes: { role },
          ...(u.admin ? {} : { reason: 'not_an_admin' }),
        });
      },
    },
    {
      weight: 1,
      make: (t, u) => {
        const target = pick(users.get(t) as User[]);
        return base(t, u, 'user.role.revoke', 'authorization', 'success', 'iam', {
          resource: { type: 'user', id: target.id },
          attributes: { role: pick(ROLES) },
        });
      },
    },
    {
      weight: 1,
      make: (t, u) =>
        base(t, u, 'admin.user.create', 'admin', 'success', 'iam', { resource: { type: 'user', id: `${t}-new-${docSeq++}` }, severity: 'medium' }),
    },
    {
      weight: 1,
      make: (t, u) =>
        base(t, u, 'api_key.create', 'authorization', 'success', 'iam', { resource: { type: 'api_key', id: `key-${docSeq++}` }, severity: 'medium' }),
    },
    {
      weight: 1,
      make: (t) => ({
        tenant_id: t,
        actor: { id: 'backup-agent', type: 'system' },
        action: 'system.backup.complete',
        category: 'system',
        outcome: 'success',
        service: 'platform',
        host: 'backup-0',
      }),
    },
  ];
  const total = kinds.reduce((s, k) => s + k.weight, 0);

  function background(): PublishInput {
    const tenant = pick(tenants);
    const u = pick(users.get(tenant) as User[]);
    let r = rnd() * total;
    for (const k of kinds) {
      r -= k.weight;
      if (r <= 0) return k.make(tenant, u);
    }
    return (kinds[0] as Kind).make(tenant, u);
  }

  // Scheduled attack events, in due order.
  const scheduled: Array<{ due: number; event: PublishInput }> = [];
  const attacks: AttackInfo[] = [];
  let startMs: number | undefined;
  let nextAttackMs = 0;
  let attackNo = 0;

  function attackerIp(): string {
    return `203.0.113.${1 + Math.floor(rnd() * 250)}`;
  }

  function schedule(nowMs: number): void {
    const kind: AttackKind = attackNo++ % 2 === 0 ? 'brute_force' : 'password_spraying';
    const tenant = pick(tenants);
    const list = users.get(tenant) as User[];
    const ip = attackerIp();
    const agent = 'python-requests/2.31';
    const fail = (u: User, due: number) =>
      scheduled.push({
        due,
        event: {
          tenant_id: tenant,
          actor: { id: u.id, type: 'user', ip, user_agent: agent },
          action: 'auth.login',
          category: 'authentication',
          outcome: 'failure',
          reason: 'invalid_password',
          service: 'sso',
          severity: 'low',
          attributes: { method: 'password' },
        },
      });
    let info: AttackInfo;
    if (kind === 'brute_force') {
      const victim = pick(list);
      for (let i = 0; i < 8; i++) fail(victim, nowMs + i * 1000);
      const fell = rnd() < 0.5;
      if (fell) {
        scheduled.push({
          due: nowMs + 8500,
          event: {
            tenant_id: tenant,
            actor: { id: victim.id, type: 'user', ip, user_agent: agent },
            action: 'auth.login',
            category: 'authentication',
            outcome: 'success',
            service: 'sso',
            attributes: { method: 'password' },
          },
        });
      }
      info = { kind, tenant_id: tenant, source_ip: ip, actors: [victim.id], events: fell ? 9 : 8, started_at_ms: nowMs };
    } else {
      const victims = new Set<User>();
      while (victims.size < Math.min(15, list.length)) victims.add(pick(list));
      [...victims].forEach((u, i) => {
        fail(u, nowMs + i * 1000);
      });
      info = { kind, tenant_id: tenant, source_ip: ip, actors: [...victims].map((u) => u.id), events: victims.size, started_at_ms: nowMs };
    }
    scheduled.sort((a, b) => a.due - b.due);
    attacks.push(info);
    gen.onAttack?.(info);
  }

  const gen: TrafficGenerator = {
    attacks,
    next(nowMs) {
      if (startMs === undefined) {
        startMs = nowMs;
        nextAttackMs = nowMs + firstAttackMs;
      }
      if (attackEveryMs > 0 && nowMs >= nextAttackMs) {
        schedule(nowMs);
        nextAttackMs = nowMs + attackEveryMs;
      }
      const head = scheduled[0];
      if (head && head.due <= nowMs) {
        scheduled.shift();
        return { ...head.event, occurred_at: new Date(nowMs) };
      }
      return { ...background(), occurred_at: new Date(nowMs) };
    },
  };
  return gen;
}
