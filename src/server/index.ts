/**
 * The server's library entry points. fastify, BullMQ and SQLite load only when a server or
 * worker is actually created, so importing the library stays light.
 */
import type { BgServer, CreateServerOptions } from './app.js';
import type { ServerConfig, ServerConfigInput } from './config.js';
import type { BgWorker, WorkerLog } from './worker.js';

export type { BgServer, CreateServerOptions } from './app.js';
export type { ServerConfig, ServerConfigInput } from './config.js';
export type { BgWorker, WorkerLog } from './worker.js';

/** Builds the HTTP server from env + `config` (not yet listening; call `listen()`). */
export async function createServer(
  config: ServerConfigInput | ServerConfig = {},
  options: CreateServerOptions = {},
): Promise<BgServer> {
  const { createServer: create } = await import('./app.js');
  return create(config, options);
}

/** Builds the server and starts listening; `url` is where it listens. */
export async function startServer(
  config: ServerConfigInput = {},
  options: CreateServerOptions = {},
): Promise<BgServer & { url: string }> {
  const server = await createServer(config, options);
  const url = await server.listen();
  return Object.assign(server, { url });
}

/** Runs jobs from the queue without HTTP (what `bg-native worker` does). */
export async function startWorker(config: ServerConfigInput = {}, log?: WorkerLog): Promise<BgWorker> {
  const { startWorker: start } = await import('./worker.js');
  return start(config, log);
}
