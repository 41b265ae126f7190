import { producerSection } from '@auditstream/config';
import type { ProducerDefaults } from './options.js';

// The SDK's defaults are the `producer` config section's: one list of values. The package build
// (scripts/build.ts) replaces this module with the parsed values as a literal, so the published
// SDK carries neither zod nor the config loader.
const { registry_url: _unset, ...parsed } = producerSection.parse({});

// Compile-time: the section's defaulted keys are exactly the SDK's defaulted options.
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameKeys: SameKeys<keyof typeof parsed, keyof ProducerDefaults> = true;
void sameKeys;

/** The defaults of the tuning options: the parsed `producer` config section (registry_url is unset). */
export const PRODUCER_DEFAULTS: ProducerDefaults = Object.freeze(parsed);
