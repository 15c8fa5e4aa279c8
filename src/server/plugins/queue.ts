/**
 * The job queue of a serving process: created from the configuration, running jobs here when
 * this process is a worker too, sending the webhooks, sweeping ended jobs (retention). It is
 * decorated on the root instance as `queue` and `retention`; closing the server (onClose, after
 * the HTTP server stopped and its requests ended) stops the sweep and closes the queue, letting
 * running jobs finish within SHUTDOWN_GRACE.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

import { createQueue } from '../../queue/index.js';
import type { JobQueue } from '../../queue/types.js';
import { createWebhookSender } from '../../webhooks/deliver.js';
import { queueSettings, type ServerConfig } from '../config.js';
import { runJob, terminalMessage } from '../jobs.js';
import { startRetention, type Retention } from '../retention.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The job queue (plugins/queue.ts). */
    queue: JobQueue;
    /** The sweep deleting ended jobs and their files after JOB_RETENTION (plugins/queue.ts). */
    retention: Retention;
  }
}

export interface QueuePluginOptions {
  cfg: ServerConfig;
  /** Run jobs in this process (default: config.concurrency > 0). */
  worker?: boolean | undefined;
}

async function jobQueue(app: FastifyInstance, { cfg, worker }: QueuePluginOptions): Promise<void> {
  const log = (level: 'info' | 'warn' | 'error' | 'debug', msg: string, extra?: Record<string, unknown>) =>
    app.log[level](extra ?? {}, msg);
  const queue = await createQueue(queueSettings(cfg), { onTerminal: (job) => terminalMessage(job, cfg), log });
  const runWorker = worker ?? cfg.concurrency > 0;
  if (runWorker && cfg.concurrency > 0) queue.startWorker((job, ctx) => runJob(job, ctx, cfg), cfg.concurrency);
  if (cfg.webhookSecret) {
    const sender = { secret: cfg.webhookSecret, allowedHosts: cfg.allowedHosts, timeoutMs: cfg.webhookTimeoutMs };
    queue.startDeliveries(createWebhookSender(sender));
  }
  const retention = startRetention(queue, cfg, log);
  app.decorate('queue', queue);
  app.decorate('retention', retention);
  app.addHook('onClose', async () => {
    await retention.stop();
    await queue.close(cfg.shutdownGraceMs);
  });
}

/** Creates the queue and decorates it (and the retention sweep) on the root instance. */
export const queuePlugin = fp(jobQueue, { name: 'bg-native-queue' });
