/**
 * The bearer token: with API_TOKEN set, every request must send `Authorization: Bearer <token>`
 * (compared in constant time) except the public ones — the liveness probe (a plain GET /health,
 * unless HEALTH_PUBLIC=false) and the web page's shell and assets, which carry no data.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

import type { ServerConfig } from '../config.js';
import { HttpError } from '../http-errors.js';
import { isPublicWebPath } from '../web.js';

export interface AuthOptions {
  cfg: ServerConfig;
}

function tokenDigest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** A plain `GET /health` with no token and no `details`: the liveness probe monitors send. */
export function isLivenessProbe(req: FastifyRequest): boolean {
  const [route, query = ''] = req.url.split('?', 2) as [string, string?];
  if (route !== '/health' || req.headers.authorization !== undefined) return false;
  const details = new URLSearchParams(query).get('details');
  return details === null || /^(0|false|no)$/i.test(details);
}

async function auth(app: FastifyInstance, { cfg }: AuthOptions): Promise<void> {
  const expected = cfg.apiToken ? tokenDigest(cfg.apiToken) : undefined;
  app.addHook('onRequest', async (req) => {
    if (!expected) return;
    if (cfg.healthPublic && isLivenessProbe(req)) return;
    if (isPublicWebPath(req.method, req.url)) return;
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(h);
    if (!m || !timingSafeEqual(tokenDigest(m[1]!.trim()), expected)) {
      const message = m ? 'The bearer token is not valid.' : 'Send `Authorization: Bearer <API_TOKEN>`.';
      throw new HttpError(401, 'E_UNAUTHORIZED', message, { 'www-authenticate': 'Bearer' });
    }
  });
}

/** Adds the token check to every route of the root instance. */
export const authPlugin = fp(auth, { name: 'bg-native-auth' });
