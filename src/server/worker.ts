/**
 * A worker without HTTP (`bg-native worker`): takes jobs from the shared queue (BullMQ on Redis,
 * or the SQLite file on this machine), runs them, stores the artifacts under OUTPUT_DIR and
 * sends the webhooks. OUTPUT_DIR must be the same storage the serving processes read.
 */
import { mkdir } from 'node:fs/promises';

import { createQueue } from '../queue/index.js';
import type { JobQueue } from '../queue/types.js';
import { createWebhookSender } from '../webhooks/deliver.js';
import {
  describeConfig,
  loadServerConfig,
  queueSettings,
  type ServerConfig,
  type ServerConfigInput,
} from './config.js';
import { runJob, terminalMessage, uploadsDir } from './jobs.js';
import { closeServerLibrary, serverLibrary } from './library.js';

export interface BgWorker {
  readonly queue: JobQueue;
  readonly config: ServerConfig;
  /** Stops taking jobs; running ones get SHUTDOWN_GRACE to finish, then go back to the queue. */
  close(): Promise<void>;
}

export type WorkerLog = (
  level: 'info' | 'warn' | 'error' | 'debug',
  msg: string,
  extra?: Record<string, unknown>,
) => void;

export async function startWorker(overrides: ServerConfigInput = {}, log?: WorkerLog): Promise<BgWorker> {
  const cfg = loadServerConfig(overrides);
  // The jobs' library context (the environment's settings, MODEL_ID and RUNWAY_API_KEY on top): checked now.
  serverLibrary(cfg);
  await mkdir(uploadsDir(cfg), { recursive: true });
  log?.('info', 'bg-native worker configuration', describeConfig(cfg));
  const queue = await createQueue(queueSettings(cfg), {
    onTerminal: (job) => terminalMessage(job, cfg),
    ...(log ? { log } : {}),
  });
  queue.startWorker((job, ctx) => runJob(job, ctx, cfg), Math.max(1, cfg.concurrency));
  if (cfg.webhookSecret) {
    const sender = { secret: cfg.webhookSecret, allowedHosts: cfg.allowedHosts, timeoutMs: cfg.webhookTimeoutMs };
    queue.startDeliveries(createWebhookSender(sender));
  }
  let closed: Promise<void> | undefined;
  const close = () => queue.close(cfg.shutdownGraceMs).then(() => closeServerLibrary(cfg));
  return { queue, config: cfg, close: () => (closed ??= close()) };
}
