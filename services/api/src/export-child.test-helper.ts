// The API as its own process, wired by main.ts from the environment (AUDITSTREAM_*), for tests that
// measure it from outside (export.int.test.ts reads its RSS from /proc). Prints `API_URL=<url>` once listening
// (the logs go to stdout too).
import { runApi } from './main.js';

const running = await runApi({ onListening: (url) => process.stdout.write(`API_URL=${url}\n`) });
await running.done;
