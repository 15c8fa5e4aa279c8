/**
 * `bg-native serve` (the HTTP server) and `bg-native worker` (jobs only, no HTTP). Every setting
 * is an environment variable (the seeds' names) and a flag; flags win. SIGTERM/SIGINT shut down
 * gracefully: no new requests or jobs, running jobs finish within SHUTDOWN_GRACE or go back to
 * the queue.
 */
import { type Command, Option } from 'commander';

import { BgNativeError } from '../errors.js';
import { SETTINGS, type ServerConfigInput } from '../server/config.js';
import type { CliIO } from './io.js';

function addSettings(cmd: Command, skip: ReadonlySet<string> = new Set()): Command {
  for (const s of SETTINGS) {
    if (skip.has(s.key)) continue;
    cmd.addOption(new Option(s.flag, `${s.help} [env ${s.env}]`));
  }
  return cmd;
}

function overridesFrom(flags: Record<string, unknown>): ServerConfigInput {
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const v = flags[new Option(s.flag).attributeName()];
    if (v === undefined) continue;
    if (v === true) out[s.key] = true;
    else {
      try {
        out[s.key] = s.parse(String(v));
      } catch (err) {
        throw new BgNativeError('E_CONFIG', `${s.flag.split(' ')[0]} ${(err as Error).message}.`);
      }
    }
  }
  return out as ServerConfigInput;
}

/** Lets the process exit once the server is closed: the compose threads and loaded models go too. */
async function releaseProcessResources(): Promise<void> {
  const [{ closeComposePool }, { clearSegmenters }] = await Promise.all([
    import('../workers/pixel-pool.js'),
    import('../models/segmenters.js'),
  ]);
  await Promise.allSettled([closeComposePool(), clearSegmenters()]);
}

/** Resolves on the first SIGTERM/SIGINT, after `close` finished. */
function untilSignal(close: () => Promise<void>, io: CliIO): Promise<void> {
  return new Promise((resolve, reject) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      io.stderr(`bg-native: ${sig}: shutting down (running jobs get SHUTDOWN_GRACE to finish)\n`);
      close().then(resolve, reject);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

export function registerServeCommands(program: Command, io: CliIO): void {
  addSettings(
    program
      .command('serve')
      .description('run the HTTP server: job API, client API, signed webhooks, /docs')
      .exitOverride(),
  ).action(async (flags: Record<string, unknown>) => {
    const { createServer } = await import('../server/app.js');
    const server = await createServer(overridesFrom(flags));
    const url = await server.listen();
    io.stdout(`bg-native: listening on ${url} (queue: ${server.queue.backend})\n`);
    await untilSignal(() => server.close(), io);
    await releaseProcessResources();
  });

  addSettings(
    program
      .command('worker')
      .description('run jobs from the shared queue (QUEUE_URL=redis://… or QUEUE_DB) without HTTP')
      .exitOverride(),
    new Set(['port', 'host', 'apiToken', 'allowNoAuth', 'healthPublic', 'bodyLimit', 'syncWaitMs', 'maxQueued']),
  ).action(async (flags: Record<string, unknown>) => {
    const { startWorker } = await import('../server/worker.js');
    const worker = await startWorker(overridesFrom(flags), (level, msg, extra) => {
      if (level === 'debug') return;
      io.stderr(`bg-native worker: ${level}: ${msg}${extra ? ` ${JSON.stringify(extra)}` : ''}\n`);
    });
    io.stdout(`bg-native: worker running (queue: ${worker.queue.backend})\n`);
    await untilSignal(() => worker.close(), io);
    await releaseProcessResources();
  });
}
