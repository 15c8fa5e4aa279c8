/**
 * The container files: Dockerfile (CPU), Dockerfile.cuda, .dockerignore and compose.yaml. No Docker
 * engine runs where these tests run, so the images are not built here: the Dockerfiles go through
 * dockerfile-utils' validator and the rules in helpers/dockerfile-rules.ts (stages, copied paths,
 * user, port, volume, health check, command, Node version), compose.yaml through
 * helpers/compose-rules.ts, and each rule is shown to catch the mistake it is about. The images'
 * health probe itself runs against the real server on loopback.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { validate } from 'dockerfile-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

import { clearSegmenters, closeComposePool } from '../src/index.js';
import { createServer, type BgServer } from '../src/server/app.js';
import { SETTINGS, loadServerConfig } from '../src/server/config.js';
import { composeProblems, envOf as composeEnv, type ComposeDoc, type ComposeFacts } from './helpers/compose-rules.js';
import { isExcluded, parseDockerignore } from './helpers/dockerignore.js';
import { copies, envOf, execForm, healthcheckOf, ofKind, parseStages, workdir } from './helpers/dockerfile-model.js';
import {
  BUILD_PRODUCTS,
  DATA_VOLUME,
  PORT,
  dockerfileProblems,
  type Flavour,
  type RepoFacts,
} from './helpers/dockerfile-rules.js';
import { repoRoot, tempDir } from './helpers/paths.js';
import { TOKEN, freePort } from './helpers/server-harness.js';

const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  engines: { node: string };
  scripts: Record<string, string>;
  files: string[];
};
const README = read('README.md');
const FILES: Record<Flavour, string> = { cpu: 'Dockerfile', cuda: 'Dockerfile.cuda' };
const FLAVOURS = Object.keys(FILES) as Flavour[];

/** Environment names the package reads: the server's settings and the names the README documents. */
const knownEnv = new Set([
  ...SETTINGS.map((s) => s.env),
  ...[...README.matchAll(/`([A-Z][A-Z0-9_]{2,})/g)].map((m) => m[1]!),
  'NODE_ENV',
]);

function repoFacts(ignore = read('.dockerignore')): RepoFacts {
  const rules = parseDockerignore(ignore);
  return {
    root: repoRoot,
    excluded: (rel) => isExcluded(rules, rel),
    nodeMajorMin: Number(/^>=\s*(\d+)/.exec(pkg.engines.node)?.[1]),
    knownEnv,
  };
}

function runtimeOf(flavour: Flavour) {
  return parseStages(read(FILES[flavour])).at(-1)!;
}

describe('Dockerfile and Dockerfile.cuda', () => {
  it.each(FLAVOURS)('%s: the Dockerfile validator (dockerfile-utils) reports nothing', (flavour) => {
    const text = read(FILES[flavour]);
    expect(validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    // …and it is not blind: a misspelt flag is reported.
    expect(validate(text.replace('--interval=', '--intervall=')).length).toBeGreaterThan(0);
  });

  it.each(FLAVOURS)('%s keeps every rule: two stages, non-root user, port, volume, health check, serve', (flavour) => {
    expect(dockerfileProblems(read(FILES[flavour]), repoFacts(), flavour)).toEqual([]);
  });

  it('both flavours run the same server the same way: command, port, user, volume, environment, probe', () => {
    const [cpu, cuda] = FLAVOURS.map(runtimeOf) as [ReturnType<typeof runtimeOf>, ReturnType<typeof runtimeOf>];
    const view = (s: typeof cpu) => ({
      entry: execForm(ofKind(s, 'ENTRYPOINT').at(-1)),
      cmd: execForm(ofKind(s, 'CMD').at(-1)),
      user: ofKind(s, 'USER').at(-1)?.getArguments()[0]?.getValue(),
      expose: ofKind(s, 'EXPOSE').map((e) => e.getArguments().map((a) => a.getValue())),
      volume: ofKind(s, 'VOLUME').map((e) => e.getArguments().map((a) => a.getValue())),
      workdir: workdir(s),
      env: [...envOf(s)],
      health: healthcheckOf(s)?.command,
    });
    expect(view(cuda)).toEqual(view(cpu));
    expect(view(cpu).entry).toEqual(['node', 'bin/bg-native.js']);
  });

  it('what the runtime stage copies from the build stage is what the repository builds there', () => {
    // dist/ is tsc's outDir, dist/web the web page's; build:native is the cmake-js build of the bg_native target.
    expect(BUILD_PRODUCTS.map((p) => p.path)).toEqual(['node_modules', 'dist', 'build/Release/bg_native.node']);
    expect(JSON.parse(read('tsconfig.json')).compilerOptions.outDir).toBe('dist');
    expect(JSON.parse(read('web/tsconfig.json')).compilerOptions.outDir).toBe('../dist/web');
    expect(pkg.scripts['build:ts']).toContain('tsc -p tsconfig.json');
    expect(pkg.scripts['build:native']).toContain('scripts/install.cjs');
    expect(read('CMakeLists.txt')).toMatch(/bgn_addon\(bg_native /);
    // The web page's shell files the runtime copies are the ones the package ships.
    for (const flavour of FLAVOURS) {
      const shell = read(FILES[flavour])
        .match(/\/app\/web\/[\w.]+/g)!
        .map((p) => p.slice('/app/'.length));
      expect(shell.length).toBeGreaterThan(0);
      for (const f of shell) expect(pkg.files).toContain(f);
    }
  });

  /** Parts of the published package only the build uses: C++ sources and build files, prebuilds, examples. */
  const BUILD_ONLY = new Set(['native', 'scripts/*.cjs', 'CMakeLists.txt', 'binding.gyp', 'prebuilds', 'examples']);

  it.each(FLAVOURS)('%s: the runtime stage has every part of the published package read at run time', (flavour) => {
    const runtime = runtimeOf(flavour);
    const wd = workdir(runtime);
    const copied = copies(runtime).flatMap((c) =>
      c.from === 'build' ? c.sources.map((src) => path.posix.relative(wd, src)) : [],
    );
    expect(pkg.files.filter((f) => !BUILD_ONLY.has(f) && !copied.includes(f))).toEqual([]);
  });

  /** One mistake per rule, on the CPU file (and the CUDA file where it differs): the rule must name it. */
  const MUTATIONS: [string, Flavour, (t: string) => string, string][] = [
    ['the USER line removed', 'cpu', (t) => t.replace(/^USER .*\n/m, ''), 'user:'],
    ['USER root', 'cpu', (t) => t.replace(/^USER .*$/m, 'USER root'), 'user:'],
    ['USER of a user nobody created', 'cuda', (t) => t.replace(/^USER .*$/m, 'USER app'), 'user:'],
    ['EXPOSE of another port', 'cpu', (t) => t.replace(/^EXPOSE .*$/m, 'EXPOSE 8080'), 'expose:'],
    ['the HEALTHCHECK removed', 'cpu', (t) => t.replace(/^HEALTHCHECK [^\n]*\\\n[^\n]*\n/m, ''), 'healthcheck:'],
    [
      'a curl health check (no curl in slim)',
      'cpu',
      (t) => t.replace('CMD ["node", "-e", ', 'CMD ["curl", "-f", '),
      'healthcheck:',
    ],
    ['the VOLUME removed', 'cpu', (t) => t.replace(/^VOLUME .*\n/m, ''), 'volume:'],
    [
      'the queue database off the volume',
      'cpu',
      (t) => t.replace('QUEUE_DB=/data/queue.db', 'QUEUE_DB=/app/queue.db'),
      'volume:',
    ],
    ['/data left to root', 'cpu', (t) => t.replace(' \\\n && chown -R bgnative:bgnative /data', ''), 'volume:'],
    [
      'COPY --from of an unknown stage',
      'cpu',
      (t) => t.replace('--from=build /app/dist', '--from=builder /app/dist'),
      'copy-from:',
    ],
    [
      'COPY of a path not in the repository',
      'cpu',
      (t) => t.replace('COPY src ./src', 'COPY source ./src'),
      'context-sources:',
    ],
    [
      'a runtime COPY the build never makes',
      'cpu',
      (t) => t.replace('/app/dist ./dist', '/app/lib ./lib'),
      'stage-sources:',
    ],
    ['a Node major below engines', 'cpu', (t) => t.replaceAll('node:20-', 'node:18-'), 'node-major:'],
    ['CMD running the worker', 'cpu', (t) => t.replace('CMD ["serve"]', 'CMD ["worker"]'), 'cmd:'],
    [
      'the addon tuned to the building CPU',
      'cpu',
      (t) => t.replace('BGN_PORTABLE=1', 'BGN_PORTABLE=0'),
      'build-stage:',
    ],
    ['no OpenBLAS at run time', 'cpu', (t) => t.replace(' libopenblas0-pthread', ' tini'), 'build-stage:'],
    ['a CUDA build without BGN_CUDA', 'cuda', (t) => t.replace('BGN_CUDA=1 \\\n    ', ''), 'build-stage:'],
    [
      'a CUDA runtime of another version',
      'cuda',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the Dockerfile's own ${…} text
      (t) => t.replace('${CUDA_VERSION}-runtime', '12.4.1-runtime'),
      'flavour:',
    ],
    ['one stage only', 'cpu', (t) => t.slice(t.indexOf('FROM node:20-bookworm-slim AS runtime')), 'stages:'],
    ['apt lists left in the layer', 'cpu', (t) => t.replace(' \\\n && rm -rf /var/lib/apt/lists/*', ''), 'apt:'],
    ['a misspelt variable', 'cpu', (t) => t.replace('OUTPUT_DIR=/data/output', 'OUTPUTDIR=/data/output'), 'env:'],
    [
      'an untagged base image',
      'cpu',
      (t) => t.replace('FROM node:20-bookworm-slim AS runtime', 'FROM node AS runtime'),
      'base-image:',
    ],
  ];
  it.each(MUTATIONS)('catches %s (%s)', (_what, flavour, mutate, rule) => {
    const original = read(FILES[flavour]);
    const mutated = mutate(original);
    expect(mutated).not.toBe(original);
    const problems = dockerfileProblems(mutated, repoFacts(), flavour);
    expect(problems.filter((p) => p.startsWith(rule))).not.toEqual([]);
  });

  it('catches a copied folder that .dockerignore leaves out of the context', () => {
    const facts = repoFacts(`${read('.dockerignore')}\nnative\n`);
    expect(dockerfileProblems(read('Dockerfile'), facts, 'cpu')).toContain(
      'context-sources: COPY native: .dockerignore leaves it out of the context',
    );
  });
});

describe('.dockerignore', () => {
  const rules = parseDockerignore(read('.dockerignore'));
  it('leaves out installs, builds, data, tests and git, and keeps the sources the images compile', () => {
    const out = [
      'node_modules/x/index.js',
      'web/node_modules/y',
      'build/Release/bg_native.node',
      'build-cuda/a.o',
      'dist/index.js',
      '.git/HEAD',
      'test/native/test_gemm.cpp',
      'bg-native-data/queue.db',
      'npm-debug.log',
    ];
    const kept = [
      'package.json',
      'package-lock.json',
      '.npmrc',
      'native/addon/addon.cpp',
      'src/index.ts',
      'scripts/install.cjs',
      'third_party/cmake',
      'web/index.html',
      'presets/vitrinealu.yaml',
      'bin/bg-native.js',
    ];
    expect(out.filter((p) => !isExcluded(rules, p))).toEqual([]);
    expect(kept.filter((p) => isExcluded(rules, p))).toEqual([]);
  });

  it('reads patterns as Docker does: ** across folders, * within one, ! re-includes, the last match wins', () => {
    const r = parseDockerignore('**/cache\n*.tmp\nlogs\n!logs/keep.txt\n# a comment\n/root-only\n');
    expect(isExcluded(r, 'a/b/cache/x')).toBe(true);
    expect(isExcluded(r, 'cache')).toBe(true);
    expect(isExcluded(r, 'x.tmp')).toBe(true);
    expect(isExcluded(r, 'sub/x.tmp')).toBe(false);
    expect(isExcluded(r, 'logs/a.txt')).toBe(true);
    expect(isExcluded(r, 'logs/keep.txt')).toBe(false);
    expect(isExcluded(r, 'root-only/f')).toBe(true);
    expect(isExcluded(r, '# a comment')).toBe(false);
  });
});

describe('compose.yaml', () => {
  const cpu = runtimeOf('cpu');
  const facts: ComposeFacts = {
    root: repoRoot,
    image: { volume: DATA_VOLUME, port: PORT, env: envOf(cpu), healthcheck: healthcheckOf(cpu)!.command! },
    knownEnv,
    serveFlags: new Set(SETTINGS.map((s) => s.flag.split(' ')[0]!)),
    shutdownGraceMs: loadServerConfig({}, {}).shutdownGraceMs,
  };
  const load = () => parseYaml(read('compose.yaml'), { merge: true }) as ComposeDoc;
  /** Service `name` of the file, which the unmutated file has. */
  const svc = (d: ComposeDoc, name: string) => d.services![name]!;
  /** Its environment, a map in compose.yaml. */
  const env = (d: ComposeDoc, name: string) => svc(d, name).environment as Record<string, string>;

  it('runs a server that only enqueues, workers and Redis on one queue and one output volume', () => {
    expect(composeProblems(load(), facts)).toEqual([]);
    const doc = load();
    expect(composeEnv(svc(doc, 'server')).get('QUEUE_URL')).toBe('redis://redis:6379');
  });

  const MUTATIONS: [string, (d: ComposeDoc) => void, string][] = [
    ['a worker on another queue', (d) => (env(d, 'worker').QUEUE_URL = 'redis://other:6379'), 'queue:'],
    ['a worker without the output volume', (d) => (svc(d, 'worker').volumes = []), 'volume:'],
    ['a server that runs jobs itself', (d) => (svc(d, 'server').command = ['serve']), 'command:'],
    [
      'a serve flag that does not exist',
      (d) => (svc(d, 'server').command as string[]).push('--threadz', '2'),
      'command:',
    ],
    ['no health check on the server', (d) => delete svc(d, 'server').healthcheck, 'healthcheck:'],
    ['the /health probe on the worker', (d) => delete svc(d, 'worker').healthcheck, 'healthcheck:'],
    ['a token written into the file', (d) => (env(d, 'server').API_TOKEN = 'hunter2'), 'secret:'],
    ['Redis that may evict queue keys', (d) => (svc(d, 'redis').command = ['redis-server']), 'redis:'],
    ['a misspelt key', (d) => (svc(d, 'worker').healtcheck = { disable: true }), 'keys:'],
    ['no port for the server', (d) => (svc(d, 'server').ports = ['8080:8080']), 'ports:'],
    ['a stop grace shorter than SHUTDOWN_GRACE', (d) => (svc(d, 'worker').stop_grace_period = '10s'), 'shutdown:'],
  ];
  it.each(MUTATIONS)('catches %s', (_what, mutate, rule) => {
    const doc = load();
    mutate(doc);
    expect(composeProblems(doc, facts).filter((p) => p.startsWith(rule))).not.toEqual([]);
  });
});

/** The images' HEALTHCHECK command, run as Docker runs it (`node -e …` with the container's env). */
function probe(env: Record<string, string>): Promise<number> {
  const [node, flag, script] = healthcheckOf(runtimeOf('cpu'))!.command!;
  expect([node, flag]).toEqual(['node', '-e']);
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['-e', script!], { env: { PATH: process.env.PATH ?? '', ...env } });
    child.on('exit', (code) => resolve(code ?? -1));
  });
}

describe('the images’ health probe against the real server', () => {
  const tmp = tempDir('bgn-docker-');
  const servers: BgServer[] = [];
  const ports: string[] = [];

  beforeAll(async () => {
    for (const [i, healthPublic] of [true, false].entries()) {
      const server = await createServer(
        {
          port: 0,
          host: '127.0.0.1',
          apiToken: TOKEN,
          healthPublic,
          outputDir: path.join(tmp.dir, `out-${i}`),
          queueDb: path.join(tmp.dir, `queue-${i}.db`),
          concurrency: 0,
        },
        { logger: false },
      );
      servers.push(server);
      ports.push(new URL(await server.listen()).port);
    }
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.allSettled([closeComposePool(), clearSegmenters()]);
    tmp.remove();
  });

  it('is healthy on an open /health without sending the token', async () => {
    expect(await probe({ PORT: ports[0]! })).toBe(0);
  });

  it('with HEALTH_PUBLIC=false sends API_TOKEN, and fails without it or with a wrong one', async () => {
    expect(await probe({ PORT: ports[1]!, HEALTH_PUBLIC: 'false', API_TOKEN: TOKEN })).toBe(0);
    expect(await probe({ PORT: ports[1]!, HEALTH_PUBLIC: 'false' })).toBe(1);
    expect(await probe({ PORT: ports[1]!, HEALTH_PUBLIC: 'false', API_TOKEN: 'wrong-token' })).toBe(1);
  });

  it('fails when nothing answers on PORT', async () => {
    expect(await probe({ PORT: String(await freePort()) })).toBe(1);
  });
});

describe('README', () => {
  it('tells how to build and run both images and the compose set-up, and that the tests do not build them', () => {
    const section = README.slice(README.indexOf('### Docker'));
    expect(section.length).toBeLessThan(README.length);
    for (const s of [
      'docker build -t vitrinealu-background .',
      'docker build -f Dockerfile.cuda',
      'docker run --gpus all -p 3001:3001',
      'API_TOKEN',
      'docker compose up',
      'test/docker-files.test.ts',
    ]) {
      expect(section).toContain(s);
    }
  });
});
