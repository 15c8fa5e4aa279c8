/** Picks the queue: BullMQ when `queueUrl` is set, else the embedded SQLite file `queueDb`. */
import type { JobQueue, QueueOptions } from './types.js';

export type { JobQueue } from './types.js';

/** Where the queue lives and how it retries: what a queue needs of its owner's configuration. */
export interface QueueSettings extends Omit<QueueOptions, 'onTerminal' | 'log'> {
  /** redis://… or rediss://…: a BullMQ queue shared between processes. */
  queueUrl?: string | undefined;
  /** The key prefix in Redis. */
  queuePrefix: string;
  /** The SQLite file of the embedded queue (used without `queueUrl`). */
  queueDb: string;
}

export async function createQueue(
  settings: QueueSettings,
  hooks: Pick<QueueOptions, 'onTerminal' | 'log'>,
): Promise<JobQueue> {
  const opts: QueueOptions = {
    backoffMs: settings.backoffMs,
    attempts: settings.attempts,
    leaseMs: settings.leaseMs,
    pollMs: settings.pollMs,
    webhookSchedule: settings.webhookSchedule,
    ...hooks,
  };
  if (settings.queueUrl) {
    const { BullQueue } = await import('./bullmq.js');
    return BullQueue.connect(settings.queueUrl, settings.queuePrefix, opts);
  }
  const { SqliteQueue } = await import('./sqlite.js');
  return new SqliteQueue(settings.queueDb, opts);
}
