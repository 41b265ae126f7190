/**
 * @auditstream/test: the one test kit. Integration tests anywhere in the tree import their
 * generic helpers from here (poll-until, free port, webhook receiver, the ingest test environment);
 * helpers specific to one service stay beside its tests as `*.test-helper.ts`.
 */

export { countStored, publishEvents, sampleInput } from '@auditstream/workload';
export {
  type AlertingChild,
  collectTopic,
  type DeliveredAlert,
  firedByIncident,
  groupAssignment,
  loginEvent,
  produceKeyed,
  spawnAlerting,
} from './alerting.js';
export { type AxeViolation, launchChromium, seriousA11yViolations } from './browser.js';
export { type Captured, type Child, runCli, spawnCli } from './cli.js';
export { testConfig, testKafka } from './env.js';
export {
  committedTotal,
  createTestEnv,
  type IngestChild,
  publishPoison,
  quietLogger,
  rowCounts,
  scrape,
  spawnIngest,
  type TestEnv,
  verifyTestEnv,
  waitForStored,
} from './ingest-env.js';
export { mergeFully } from './merge.js';
export { waitFor } from './poll.js';
export { freePort } from './ports.js';
export { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
export { type WebhookHit, webhookReceiver } from './webhook.js';
