import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isAuditstreamError } from '@auditstream/core';
import type { Command } from './command.js';

// Commands are discovered from commands/*.ts: a new command is its own file, with nothing to register.
const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

async function loadCommands(): Promise<Map<string, Command>> {
  const files = readdirSync(dir).filter((f) => /\.ts$/.test(f) && !/\.test\.ts$/.test(f) && !f.startsWith('_'));
  const out = new Map<string, Command>();
  for (const f of files.sort()) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { command?: Command };
    if (mod.command) out.set(mod.command.name, mod.command);
  }
  return out;
}

function usage(commands: Map<string, Command>): string {
  const width = Math.max(...[...commands.keys()].map((k) => k.length));
  const lines = [...commands.values()].map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: auditstream <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `auditstream <command> --help` for the options of a command.',
    'Configuration: --config <file> (YAML) or AUDITSTREAM_CONFIG; environment AUDITSTREAM_<SECTION>__<KEY> overrides the file.',
  ].join('\n');
}

/**
 * Only the named command's file (commands/<name>.ts), when it is one: loading every command
 * (the benchmark's browser driver, the API server, ...) cost each `auditstream ingest` ~3 s of CPU at start.
 */
async function loadCommand(name: string): Promise<Command | undefined> {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) return undefined;
  const file = join(dir, `${name}.ts`);
  if (!existsSync(file)) return undefined;
  const mod = (await import(pathToFileURL(file).href)) as { command?: Command };
  return mod.command?.name === name ? mod.command : undefined;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage(await loadCommands()));
    return 0;
  }
  const cmd = (await loadCommand(name)) ?? (await loadCommands()).get(name);
  if (!cmd) {
    console.error(`auditstream: unknown command "${name}"\n\n${usage(await loadCommands())}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (isAuditstreamError(err)) {
      console.error(`auditstream ${name}: ${err.message}`);
      if (err.code === 'USAGE') console.error(`\n${cmd.help}`);
      return err.code === 'USAGE' ? 2 : 1;
    }
    console.error(`auditstream ${name}: unexpected error`, err);
    return 1;
  }
}

// `auditstream … | head` closes our stdout early, a closed terminal fails our writes (EIO): that is
// the reader's choice, not an error. A command that runs until stopped (up: it listens for
// SIGTERM) stops as on SIGTERM, stopping its children; any other command is done. Later write
// errors of the dead stream are ignored.
let outputGone = false;
function onOutputError(): void {
  if (outputGone) return;
  outputGone = true;
  if (process.listenerCount('SIGTERM') > 0) process.emit('SIGTERM', 'SIGTERM');
  else process.exit(0);
}
process.stdout.on('error', onOutputError);
process.stderr.on('error', onOutputError);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A command is done when run() resolves: client libraries' idle timers (kafkajs reconnects,
    // keep-alive sockets) must not hold the process open after it.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
