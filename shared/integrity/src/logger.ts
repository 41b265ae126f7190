import type { MinimalLogger as CoreLogger } from '@auditstream/core';

/** The logging the integrity components need. */
export type MinimalLogger = Pick<CoreLogger, 'info' | 'warn' | 'error'>;
