/**
 * The web page served at `/`: a static shell (web/index.html, web/app.css) and its script,
 * compiled from web/src/*.ts by `npm run build:ts` into dist/web/. The shell and its assets are
 * the only things served without the token — they carry no data; everything the page shows comes
 * from the token-protected API (/health, /v1/presets, /v1/replace, /v1/jobs, /files).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { FastifyInstance } from 'fastify';

import { HttpError } from './http-errors.js';

/** src/server/web.ts and dist/server/web.js both sit two levels below the package root. */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHELL_DIR = path.join(packageRoot, 'web');
const SCRIPT_DIR = path.join(packageRoot, 'dist', 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** `/ui/<name>`: scripts from dist/web, styles and icons from web/. */
const ASSET = /^\/ui\/([a-z][a-z0-9-]*\.(?:js|css|svg))$/;

/** True for the requests the page shell answers without a token (GET/HEAD of `/` and `/ui/*`). */
export function isPublicWebPath(method: string, url: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const p = url.split('?')[0]!;
  return p === '/' || p === '/index.html' || ASSET.test(p);
}

function assetFile(p: string): string | undefined {
  const m = ASSET.exec(p);
  if (!m) return undefined;
  const name = m[1]!;
  return path.join(name.endsWith('.js') ? SCRIPT_DIR : SHELL_DIR, name);
}

/** The Content-Security-Policy of the page: its own origin only (plus the artifact host of PUBLIC_BASE_URL). */
function contentSecurityPolicy(publicBaseUrl: string | undefined): string {
  const extra = publicBaseUrl ? ` ${new URL(publicBaseUrl).origin}` : '';
  return [
    "default-src 'self'",
    `img-src 'self' blob: data:${extra}`,
    `connect-src 'self'${extra}`,
    "style-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join('; ');
}

/** Registers `/` and `/ui/*`. */
export function registerWebPage(app: FastifyInstance, opts: { publicBaseUrl?: string | undefined }): void {
  const csp = contentSecurityPolicy(opts.publicBaseUrl);
  const send = (file: string, reply: import('fastify').FastifyReply) => {
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      throw new HttpError(404, 'E_NOT_FOUND', 'No such file.');
    }
    return reply
      .header('content-type', TYPES[path.extname(file)] ?? 'application/octet-stream')
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', csp)
      .send(body);
  };

  const page = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    if (!existsSync(path.join(SCRIPT_DIR, 'app.js'))) {
      throw new HttpError(
        503,
        'E_CONFIG',
        "The web page's script is not built: run `npm run build:ts` in the package folder, then reload.",
      );
    }
    return send(path.join(SHELL_DIR, 'index.html'), reply);
  };
  app.get('/', { schema: { hide: true } }, page);
  app.get('/index.html', { schema: { hide: true } }, page);
  app.get('/ui/*', { schema: { hide: true } }, async (req, reply) => {
    const file = assetFile(req.url.split('?')[0]!);
    if (!file) throw new HttpError(404, 'E_NOT_FOUND', 'No such file.');
    return send(file, reply);
  });
}
