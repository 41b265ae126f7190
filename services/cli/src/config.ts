import { configSchema, loadConfig } from '@auditstream/config';

/** Every command reads config the same way: --config file (or AUDITSTREAM_CONFIG), then the environment. */
export function cliConfig(file: string | undefined) {
  return loadConfig(configSchema, { file: file ?? process.env.AUDITSTREAM_CONFIG });
}

export const configOption = { config: { type: 'string' as const } };
