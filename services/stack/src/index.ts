export {
  CLUSTER_NAME,
  type ClusterLayout,
  type ClusterStackOptions,
  clusterClientEnv,
  clusterLayout,
  createClusterStack,
  isClusterState,
} from './cluster.js';
export { STACK_ERROR_CODES, type StackErrorCode } from './error-codes.js';
export { isAlive, portOpen, signalGroup, waitUntil } from './process.js';
export {
  type ClientEnv,
  type ComponentStatus,
  createStack,
  formatStatus,
  modeFile,
  SECURE_KAFKA_USERS,
  type Stack,
  type StackOptions,
  secureClientEnv,
  stackStateExists,
  type UpResult,
} from './stack.js';
export { createSupervisor, type Supervised, type SupervisedSpec, type Supervisor, scrapeSums } from './supervisor.js';
export { secretFile, tlsPaths } from './tls.js';
