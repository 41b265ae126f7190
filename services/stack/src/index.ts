export { isAlive, portOpen, waitUntil } from './process.js';
export { type ComponentStatus, createStack, formatStatus, type Stack, type StackOptions, stackStateExists, type UpResult } from './stack.js';
export { createSupervisor, type Supervised, type SupervisedSpec, type Supervisor, scrapeSums } from './supervisor.js';
