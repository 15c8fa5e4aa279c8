/** Picks the queue: BullMQ when QUEUE_URL is set, else the embedded SQLite file QUEUE_DB. */
import type { ServerConfig } from '../server/config.js';
import type { JobQueue, QueueOptions } from './types.js';

export type { JobQueue } from './types.js';

export async function createQueue(cfg: ServerConfig, hooks: Pick<QueueOptions, 'onTerminal' | 'log'>): Promise<JobQueue> {
  const opts: QueueOptions = {
    backoffMs: cfg.backoffMs,
    attempts: cfg.attempts,
    leaseMs: cfg.leaseMs,
    pollMs: cfg.pollMs,
    webhookSchedule: cfg.webhookSchedule,
    ...hooks,
  };
  if (cfg.queueUrl) {
    const { BullQueue } = await import('./bullmq.js');
    return BullQueue.connect(cfg.queueUrl, cfg.queuePrefix, opts);
  }
  const { SqliteQueue } = await import('./sqlite.js');
  return new SqliteQueue(cfg.queueDb, opts);
}
