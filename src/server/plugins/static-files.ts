/**
 * Files served as they are: a job's artifacts under OUTPUT_DIR (GET /files/<jobId>/<name>, behind
 * the token; names are checked and must resolve inside OUTPUT_DIR) and the web page (`/` and its
 * assets, web.ts).
 */
import { createReadStream, realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';

import type { FastifyInstance } from 'fastify';

import type { ServerConfig } from '../config.js';
import { HttpError } from '../http-errors.js';
import { registerWebPage } from '../web.js';

export interface StaticFilesOptions {
  cfg: ServerConfig;
}

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
};

const SAFE_PART = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

function noSuchFile(): HttpError {
  return new HttpError(404, 'E_NOT_FOUND', 'No such file.');
}

export async function staticFiles(app: FastifyInstance, { cfg }: StaticFilesOptions): Promise<void> {
  const outputReal = realpathSync(cfg.outputDir);
  app.get('/files/*', { schema: { hide: true } }, async (req, reply) => {
    const rel = (req.params as { '*': string })['*'] ?? '';
    const parts = rel.split('/');
    if (!parts.length || parts.some((p) => !SAFE_PART.test(p) || p.includes('..'))) throw noSuchFile();
    const file = path.join(cfg.outputDir, ...parts);
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      throw noSuchFile();
    }
    if (!real.startsWith(outputReal + path.sep)) throw noSuchFile();
    const st = await stat(real);
    if (!st.isFile()) throw noSuchFile();
    void reply
      .header('content-type', CONTENT_TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream')
      .header('content-length', String(st.size))
      .header('cache-control', 'private, max-age=86400')
      .header('x-content-type-options', 'nosniff');
    return reply.send(createReadStream(real));
  });

  registerWebPage(app, { publicBaseUrl: cfg.publicBaseUrl });
}
