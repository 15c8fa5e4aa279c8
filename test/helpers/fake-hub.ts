/**
 * A model hub on 127.0.0.1 speaking the Hugging Face URL scheme, serving repositories held in
 * memory: GET /api/models/{org}/{name}/revision/{rev}?blobs=true (commit sha + files with sizes,
 * git blob ids and LFS sha256) and GET /{org}/{name}/resolve/{rev}/{path} (with Range). Faults on
 * demand: cut a file's connection part-way, serve other bytes than listed, refuse without a token.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';

export interface HubFile {
  data: Buffer;
  /** Listed as an LFS file (sha256) rather than a plain git blob (sha1). */
  lfs?: boolean;
}

export interface HubRequest {
  method: string;
  path: string;
  range?: string | undefined;
  authorization?: string | undefined;
}

export class FakeHub {
  readonly requests: HubRequest[] = [];
  /** repo id → commit → files */
  readonly repos = new Map<string, { sha: string; files: Map<string, HubFile> }>();
  /** path → how many more times to cut the connection after `cutAt` bytes. */
  readonly cuts = new Map<string, { cutAt: number; times: number }>();
  /** path → bytes served instead of the real ones (the listing keeps the real checksum). */
  readonly tampered = new Map<string, Buffer>();
  /** When set, every request needs `Authorization: Bearer <token>`. */
  token: string | undefined;
  /** Delay before each file body starts, in ms (to make concurrent downloads overlap). */
  delayMs = 0;
  private server?: http.Server;
  url = '';

  addRepo(id: string, files: Record<string, HubFile | Buffer | string>): string {
    const map = new Map<string, HubFile>();
    for (const [k, v] of Object.entries(files))
      map.set(k, typeof v === 'string' ? { data: Buffer.from(v) } : Buffer.isBuffer(v) ? { data: v } : v);
    const sha = createHash('sha1')
      .update(id + JSON.stringify([...map.keys()]))
      .digest('hex');
    this.repos.set(id, { sha, files: map });
    return sha;
  }

  fileRequests(rel: string): HubRequest[] {
    return this.requests.filter((r) => r.path.includes('/resolve/') && r.path.endsWith(`/${rel}`));
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const p = decodeURIComponent(u.pathname);
    this.requests.push({
      method: req.method ?? 'GET',
      path: p,
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
    if (this.token && req.headers.authorization !== `Bearer ${this.token}`)
      return void res.writeHead(401).end('{"error":"unauthorized"}');
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(p);
    if (m) {
      const repo = this.repos.get(m[1]!);
      if (!repo)
        return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Repository not found"}');
      const siblings = [...repo.files].map(([rfilename, f]) => {
        const blobId = createHash('sha1').update(`blob ${f.data.length}\0`).update(f.data).digest('hex');
        return f.lfs
          ? {
              rfilename,
              size: f.data.length,
              blobId,
              lfs: { sha256: createHash('sha256').update(f.data).digest('hex'), size: f.data.length, pointerSize: 130 },
            }
          : { rfilename, size: f.data.length, blobId };
      });
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id: m[1], sha: repo.sha, siblings }));
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p);
    const repo = m ? this.repos.get(m[1]!) : undefined;
    const file = repo?.files.get(m![3]!);
    if (!m || !repo || !file || (m[2] !== repo.sha && m[2] !== 'main'))
      return void res.writeHead(404).end('Entry not found');
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const body = this.tampered.get(m[3]!) ?? file.data;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) start = Number(range[1]);
    if (start >= body.length && body.length > 0)
      return void res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length - start),
      'x-repo-commit': repo.sha,
    };
    if (range) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(range ? 206 : 200, headers);
    const cut = this.cuts.get(m[3]!);
    if (cut && cut.times > 0 && cut.cutAt > start) {
      cut.times--;
      res.write(body.subarray(start, cut.cutAt));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    res.end(body.subarray(start));
  }
}
