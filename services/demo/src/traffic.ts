import type { PublishInput } from '@auditstream/producer';
import type { Category, Outcome } from '@auditstream/schemas';

/**
 * Realistic mixed audit traffic for `auditstream demo`: logins (some failing), document
 * reads and edits, configuration changes, exports, role grants, admin actions.
 *
 * The baseline behaves like people, so that it raises no alert of the default rules:
 * - a user logs in once per working session (5-20 min of demo time) and then works; a login
 *   fails with the user's own mistype rate (6 %, a few users per tenant 45 %), is retried a few
 *   seconds later, and after at most 4 failures the user resets the password and gets in;
 *   one user's login attempts never overlap;
 * - exports are small, roles granted in passing are never administrative, and admin-category
 *   actions happen in business hours only (Mon-Fri 08:00-19:00 in `business_hours.timezone`).
 *
 * Injected attacks the alerting rules should catch:
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
  /** Admin-category actions happen only Mon-Fri within these hours (the default admin_after_hours rule's). */
  business_hours?: { start_hour: number; end_hour: number; timezone: string };
  /** Users per tenant who mistype often. Default 3. */
  mistypers_per_tenant?: number;
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
  /** Chance that a login attempt fails. */
  mistype: number;
  /** Demo time until which the user is logged in / until which a login attempt is under way. */
  loggedInUntil: number;
  busyUntil: number;
}

interface Kind {
  weight: number;
  make: (tenant: string, u: User, nowMs: number) => PublishInput;
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
/** Roles granted in ordinary work (an admin grant is an event the rules flag). */
const EVERYDAY_ROLES = ['viewer', 'editor', 'billing'];
/** A user fails at most this many logins in a row, then resets the password (lockouts start at 5). */
const MAX_LOGIN_FAILURES = 4;
const REGIONS = ['eu-west-1', 'us-east-1'];

export function createTrafficGenerator(options: TrafficOptions = {}): TrafficGenerator {
  const rnd = prng(options.seed ?? 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const tenants = options.tenants?.length ? options.tenants : ['acme', 'globex', 'initech'];
  const perTenant = options.users_per_tenant ?? 40;
  const attackEveryMs = (options.attack_interval_s ?? 30) * 1000;
  const firstAttackMs = (options.first_attack_s ?? 5) * 1000;
  const mistypers = options.mistypers_per_tenant ?? 3;
  const hours = options.business_hours ?? { start_hour: 8, end_hour: 19, timezone: 'UTC' };
  const clock = new Intl.DateTimeFormat('en-US', { timeZone: hours.timezone, hourCycle: 'h23', weekday: 'short', hour: '2-digit' });
  const businessHours = (ms: number) => {
    const parts = Object.fromEntries(clock.formatToParts(ms).map((p) => [p.type, p.value]));
    const h = Number(parts.hour) % 24;
    return parts.weekday !== 'Sat' && parts.weekday !== 'Sun' && h >= hours.start_hour && h < hours.end_hour;
  };
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
        mistype: i >= perTenant - mistypers ? 0.45 : 0.06,
        loggedInUntil: Number.NEGATIVE_INFINITY,
        busyUntil: Number.NEGATIVE_INFINITY,
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
      weight: 0.3,
      make: (t, u, now) => {
        u.loggedInUntil = now;
        u.busyUntil = now + 120_000; // away for a while before the next login
        return base(t, u, 'auth.logout', 'authentication', 'success', 'sso');
      },
    },
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
          // small: the mass_data_export rule looks at record_count ≥ 10000
          attributes: {
            format: rnd() < 0.5 ? 'csv' : 'xlsx',
            record_count: String(10 + Math.floor(rnd() * 5000)),
          },
        }),
    },
    {
      weight: 2,
      make: (t, u) => {
        const target = pick(users.get(t) as User[]);
        const role = u.admin ? pick(EVERYDAY_ROLES) : pick(ROLES);
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
      make: (t, u, now) =>
        u.admin && businessHours(now)
          ? base(t, u, 'admin.user.create', 'admin', 'success', 'iam', { resource: { type: 'user', id: `${t}-new-${docSeq++}` }, severity: 'medium' })
          : base(t, u, 'document.read', 'resource_access', 'success', 'docs', { resource: { type: 'document', id: `doc-${Math.floor(rnd() * 500)}` } }),
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

  /** A login: its first attempt now; retries after failures, and the final success, scheduled. */
  function login(tenant: string, u: User, nowMs: number): PublishInput {
    let failures = 0;
    while (failures < MAX_LOGIN_FAILURES && rnd() < u.mistype) failures++;
    const attempt = (outcome: 'failure' | 'success') =>
      base(
        tenant,
        u,
        'auth.login',
        'authentication',
        outcome,
        'sso',
        outcome === 'failure'
          ? { reason: rnd() < 0.8 ? 'invalid_password' : 'mfa_failed', severity: 'low' }
          : { attributes: { method: rnd() < 0.7 ? 'password+totp' : 'sso' } },
      );
    let due = nowMs;
    const later: PublishInput[] = [];
    for (let i = 1; i < failures; i++) later.push(attempt('failure'));
    if (failures === MAX_LOGIN_FAILURES) later.push(base(tenant, u, 'auth.password.reset', 'authentication', 'success', 'sso', { severity: 'low' }));
    if (failures > 0) later.push(attempt('success'));
    for (const event of later) {
      due += 2000 + Math.floor(rnd() * 4000); // a retry a few seconds later
      scheduled.push({ due, event });
    }
    scheduled.sort((a, b) => a.due - b.due);
    u.busyUntil = due;
    u.loggedInUntil = due + 300_000 + Math.floor(rnd() * 900_000);
    return failures > 0 ? attempt('failure') : attempt('success');
  }

  function background(nowMs: number): PublishInput {
    const tenant = pick(tenants);
    const list = users.get(tenant) as User[];
    let u = pick(list);
    for (let tries = 0; u.busyUntil > nowMs && tries < 8; tries++) u = pick(list);
    if (u.busyUntil > nowMs) return (kinds.at(-1) as Kind).make(tenant, u, nowMs); // everyone is mid-login: a system event
    if (u.loggedInUntil <= nowMs) return login(tenant, u, nowMs);
    let r = rnd() * total;
    for (const k of kinds) {
      r -= k.weight;
      if (r <= 0) return k.make(tenant, u, nowMs);
    }
    return (kinds[0] as Kind).make(tenant, u, nowMs);
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
      return { ...background(nowMs), occurred_at: new Date(nowMs) };
    },
  };
  return gen;
}
