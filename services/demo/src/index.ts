// `auditstream demo` traffic (used by `auditstream demo` and `up`): a service of its own, not part of the SDK.
export { type DemoOptions, type DemoProgress, runDemo } from './run.js';
export { type AttackInfo, type AttackKind, createTrafficGenerator, prng, type TrafficGenerator, type TrafficOptions } from './traffic.js';
