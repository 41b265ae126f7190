// `auditstream demo` traffic: kept out of the SDK's public API (import '@auditstream/producer/demo').
export { type DemoOptions, type DemoProgress, runDemo } from './run.js';
export { type AttackInfo, type AttackKind, createTrafficGenerator, prng, type TrafficGenerator, type TrafficOptions } from './traffic.js';
