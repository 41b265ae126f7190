#!/usr/bin/env node
// The `auditstream` bin. Runs the TypeScript sources through tsx, so `npm ci` is all a
// checkout needs: there is no build step between a clone and `npx auditstream`.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
