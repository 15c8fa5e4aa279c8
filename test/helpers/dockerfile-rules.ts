/**
 * What the images must be, as rules over a parsed Dockerfile: each returns `rule: what is wrong`
 * lines, none when the file keeps the rule. The build stage compiles, the runtime stage copies
 * from it and runs the server as a non-root user with its data on a volume and a /health probe.
 */
import { existsSync } from 'node:fs';
import path from 'node:path/posix';

import {
  copies,
  envOf,
  execForm,
  healthcheckOf,
  ofKind,
  parseStages,
  runText,
  text,
  workdir,
  type Stage,
} from './dockerfile-model.js';

export interface RepoFacts {
  /** Repository root (the build context). */
  root: string;
  /** True for context paths .dockerignore leaves out. */
  excluded: (rel: string) => boolean;
  /** The lowest Node major package.json's engines accept. */
  nodeMajorMin: number;
  /** Environment variable names the package reads. */
  knownEnv: ReadonlySet<string>;
}

export type Flavour = 'cpu' | 'cuda';

export const PORT = '3001';
export const DATA_VOLUME = '/data';

/** What the build stage makes (relative to its WORKDIR) and the RUN text that makes it. */
export const BUILD_PRODUCTS: readonly { path: string; step: string }[] = [
  { path: 'node_modules', step: 'npm ci' },
  { path: 'dist', step: 'npm run build:ts' },
  { path: 'build/Release/bg_native.node', step: 'npm run build:native' },
];

type Rule = (stages: Stage[], facts: RepoFacts, flavour: Flavour) => string[];

const isStageName = (stages: Stage[], name: string, before: number) =>
  stages.some((s) => s.index < before && s.name === name);

const stagesRule: Rule = (stages) => {
  const out: string[] = [];
  if (stages.length < 2) out.push(`stages: a build stage and a runtime stage are needed (found ${stages.length})`);
  for (const s of stages)
    if (!s.name) out.push(`stages: stage ${s.index} (FROM ${s.image}) has no name (FROM … AS name)`);
  return out;
};

const baseImagesRule: Rule = (stages) =>
  stages.flatMap((s) => {
    if (isStageName(stages, s.image, s.index)) return [];
    const m = /^[^:@]+(?::([^@]+))?(?:@sha256:[0-9a-f]{64})?$/.exec(s.image);
    if (!m || s.image.includes('$')) return [`base-image: FROM ${s.image} is not a plain image reference`];
    if (!m[1] || m[1] === 'latest') return [`base-image: FROM ${s.image} needs an explicit tag (not latest)`];
    return [];
  });

const nodeMajorRule: Rule = (stages, facts) => {
  const majors = stages.flatMap((s) => {
    const m = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)\b/.exec(s.image);
    return m ? [Number(m[1])] : [];
  });
  const out: string[] = [];
  if (!majors.length) out.push('node-major: no stage is based on the official node image');
  for (const n of majors) {
    if (n < facts.nodeMajorMin)
      out.push(`node-major: node:${n} is below package.json engines (>=${facts.nodeMajorMin})`);
  }
  if (new Set(majors).size > 1)
    out.push(`node-major: the stages use different Node majors (${[...new Set(majors)].join(', ')})`);
  return out;
};

const copyFromRule: Rule = (stages) =>
  stages.flatMap((s) =>
    copies(s)
      .filter((c) => c.from !== undefined && !isStageName(stages, c.from, s.index))
      .map((c) => `copy-from: COPY --from=${c.from} in stage ${s.name ?? s.index} names no earlier stage`),
  );

const contextSourcesRule: Rule = (stages, facts) =>
  stages.flatMap((s) =>
    copies(s)
      .filter((c) => c.from === undefined)
      .flatMap((c) =>
        c.sources.flatMap((src) => {
          if (/[*?[]/.test(src)) return [`context-sources: COPY ${src}: name files, not patterns`];
          const rel = path.normalize(src).replace(/\/+$/, '');
          if (rel.startsWith('..') || rel.startsWith('/')) return [`context-sources: COPY ${src} leaves the context`];
          if (!existsSync(`${facts.root}/${rel}`))
            return [`context-sources: COPY ${src}: no such path in the repository`];
          if (facts.excluded(rel)) return [`context-sources: COPY ${src}: .dockerignore leaves it out of the context`];
          return [];
        }),
      ),
  );

/** Where a context COPY put things, relative to the stage's WORKDIR: dest path → context path. */
function placed(stage: Stage): Map<string, string> {
  const wd = workdir(stage);
  const out = new Map<string, string>();
  for (const c of copies(stage)) {
    if (c.from !== undefined) continue;
    const dest = path.resolve(wd, c.dest);
    const intoDir = c.dest.endsWith('/') || c.sources.length > 1;
    for (const src of c.sources) {
      const at = intoDir ? path.join(dest, path.basename(src)) : dest;
      out.set(path.relative(wd, at), path.normalize(src).replace(/\/+$/, ''));
    }
  }
  return out;
}

/** Every `COPY --from=<build stage>` source is something that stage copied in or made. */
const stageSourcesRule: Rule = (stages, facts) =>
  stages.flatMap((s) =>
    copies(s).flatMap((c) => {
      const from = stages.find((t) => t.index < s.index && t.name === c.from);
      if (!from) return [];
      if (!from.instructions.length) {
        return c.sources
          .filter((src) => !src.startsWith('/'))
          .map((src) => `stage-sources: COPY --from=${c.from} ${src}: use an absolute path`);
      }
      const wd = workdir(from);
      const inStage = placed(from);
      const runs = runText(from);
      return c.sources.flatMap((src) => {
        const rel = path.relative(wd, path.resolve(wd, src));
        if (rel.startsWith('..')) return [`stage-sources: COPY --from=${c.from} ${src} is outside its WORKDIR ${wd}`];
        const product = BUILD_PRODUCTS.find((p) => rel === p.path || rel.startsWith(`${p.path}/`));
        if (product) {
          return runs.includes(product.step)
            ? []
            : [`stage-sources: ${src}: stage ${c.from} never runs ${product.step}`];
        }
        for (const [dest, ctx] of inStage) {
          if (rel === dest || rel.startsWith(`${dest}/`)) {
            const file = ctx + rel.slice(dest.length);
            return existsSync(`${facts.root}/${file}`)
              ? []
              : [`stage-sources: ${src}: ${file} is not in the repository`];
          }
        }
        return [`stage-sources: COPY --from=${c.from} ${src}: stage ${c.from} neither copies nor builds it`];
      });
    }),
  );

const buildStageRule: Rule = (stages, _facts, flavour) => {
  const runtime = stages.at(-1)!;
  const build = stages.find(
    (s) => s.index < runtime.index && copies(runtime).some((c) => c.from === s.name) && /npm ci/.test(runText(s)),
  );
  if (!build) return ['build-stage: the runtime stage copies from no stage that runs npm ci'];
  const out: string[] = [];
  const env = envOf(build);
  if (env.get('BGN_PORTABLE') !== '1')
    out.push('build-stage: BGN_PORTABLE=1 is not set (the addon would be tuned to the building CPU)');
  if (flavour === 'cuda' && env.get('BGN_CUDA') !== '1')
    out.push('build-stage: BGN_CUDA=1 is not set (no CUDA backend)');
  if (flavour === 'cpu' && env.has('BGN_CUDA')) out.push('build-stage: the CPU image sets BGN_CUDA');
  const runs = runText(build);
  if (!/npm prune --omit=dev/.test(runs))
    out.push('build-stage: devDependencies are not pruned (npm prune --omit=dev)');
  if (!/\bnpm run build:ts\b/.test(runs)) out.push('build-stage: the TypeScript is not built (npm run build:ts)');
  if (/libopenblas-dev/.test(runs) && !/libopenblas0/.test(runText(runtime))) {
    out.push('build-stage: the addon links OpenBLAS but the runtime stage does not install libopenblas0');
  }
  return out;
};

const flavourRule: Rule = (stages, _facts, flavour) => {
  const runtime = stages.at(-1)!;
  const build = stages.find((s) => s.name === 'build');
  if (flavour === 'cpu') {
    return /^node:\d+-bookworm-slim$/.test(runtime.image)
      ? []
      : [`flavour: the CPU runtime is ${runtime.image}, not node:<major>-bookworm-slim`];
  }
  const cuda = (s: Stage | undefined, kind: string) =>
    new RegExp(`^nvidia/cuda:(\\d+\\.\\d+\\.\\d+)-${kind}-([\\w.]+)$`).exec(s?.image ?? '');
  const dev = cuda(build, 'devel');
  const run = cuda(runtime, 'runtime');
  if (!dev) return [`flavour: the CUDA build stage is ${build?.image}, not nvidia/cuda:<version>-devel-<os>`];
  if (!run) return [`flavour: the CUDA runtime is ${runtime.image}, not nvidia/cuda:<version>-runtime-<os>`];
  if (dev[1] !== run[1] || dev[2] !== run[2])
    return [`flavour: ${build!.image} and ${runtime.image} differ in CUDA version or OS`];
  if (!/(12|13)\./.test(dev[1]!)) return [`flavour: CUDA ${dev[1]} (the build needs nvcc >= 12)`];
  return [];
};

const userRule: Rule = (stages) => {
  const runtime = stages.at(-1)!;
  const user = ofKind(runtime, 'USER').at(-1)?.getArguments()[0]?.getValue();
  if (!user) return ['user: the runtime stage has no USER (it would run as root)'];
  const name = user.split(':')[0]!;
  if (name === 'root' || /^0+$/.test(name)) return [`user: USER ${user} is root`];
  if (/^\d+$/.test(name)) return [];
  // The user's name is useradd's last argument.
  const created = new RegExp(`useradd\\b[^&;\\n]*\\s${name}\\s*(&&|;|\\n|$)`).test(runText(runtime));
  return created ? [] : [`user: USER ${name} is not created (useradd) in the runtime stage`];
};

const exposeRule: Rule = (stages) => {
  const runtime = stages.at(-1)!;
  const ports = ofKind(runtime, 'EXPOSE').flatMap((e) => e.getArguments().map((a) => a.getValue().split('/')[0]));
  const out = ports.includes(PORT)
    ? []
    : [`expose: the runtime stage does not EXPOSE ${PORT} (got ${ports.join(', ') || 'none'})`];
  const env = envOf(runtime).get('PORT');
  if (env !== undefined && env !== PORT) out.push(`expose: ENV PORT=${env} differs from EXPOSE ${PORT}`);
  return out;
};

const volumeRule: Rule = (stages) => {
  const runtime = stages.at(-1)!;
  const volumes = ofKind(runtime, 'VOLUME').flatMap((v) =>
    v.getArguments().map((a) => a.getValue().replace(/^\[?"?|"?,?\]?$/g, '')),
  );
  if (!volumes.includes(DATA_VOLUME)) return [`volume: no VOLUME ${DATA_VOLUME} in the runtime stage`];
  const env = envOf(runtime);
  const out: string[] = [];
  for (const key of ['OUTPUT_DIR', 'QUEUE_DB', 'BG_NATIVE_CACHE_DIR']) {
    const v = env.get(key);
    if (!v?.startsWith(`${DATA_VOLUME}/`))
      out.push(`volume: ENV ${key} (${v ?? 'unset'}) is not on the ${DATA_VOLUME} volume`);
  }
  const user = ofKind(runtime, 'USER').at(-1)?.getArguments()[0]?.getValue()?.split(':')[0];
  if (user && !new RegExp(`chown\\b[^&;]*\\b${user}\\b[^&;]*\\s${DATA_VOLUME}\\b`).test(runText(runtime))) {
    out.push(`volume: ${DATA_VOLUME} is not owned by ${user} (chown before VOLUME), the server could not write there`);
  }
  return out;
};

const healthcheckRule: Rule = (stages) => {
  const hc = healthcheckOf(stages.at(-1)!);
  if (!hc) return ['healthcheck: the runtime stage has no HEALTHCHECK'];
  if (!hc.command) return ['healthcheck: HEALTHCHECK is not CMD in exec form (["node", "-e", …])'];
  const out: string[] = [];
  if (hc.command[0] !== 'node')
    out.push(`healthcheck: runs ${hc.command[0]}, but the slim image has only node (no curl, no wget)`);
  if (!hc.command.join(' ').includes('/health')) out.push('healthcheck: does not call /health');
  for (const flag of ['interval', 'timeout', 'start-period'])
    if (!hc.flags.has(flag)) out.push(`healthcheck: no --${flag}`);
  return out;
};

const commandRule: Rule = (stages, facts) => {
  const runtime = stages.at(-1)!;
  const entry = execForm(ofKind(runtime, 'ENTRYPOINT').at(-1)) ?? [];
  const cmd = execForm(ofKind(runtime, 'CMD').at(-1));
  if (!cmd) return ['cmd: the runtime stage has no CMD in exec form'];
  const argv = [...entry, ...cmd];
  const out: string[] = [];
  if (argv[0] !== 'node' || argv[1] !== 'bin/bg-native.js' || argv[2] !== 'serve') {
    out.push(`cmd: the image runs ${JSON.stringify(argv)}, not node bin/bg-native.js serve`);
  }
  if (!existsSync(`${facts.root}/bin/bg-native.js`)) out.push('cmd: bin/bg-native.js is not in the repository');
  const wd = workdir(runtime);
  if (!copies(runtime).some((c) => path.resolve(wd, c.dest) === path.join(wd, 'bin')))
    out.push('cmd: the runtime stage does not copy bin/');
  return out;
};

const envNamesRule: Rule = (stages, facts) => {
  const env = envOf(stages.at(-1)!);
  return [...env.keys()]
    .filter((k) => !facts.knownEnv.has(k))
    .map((k) => `env: ENV ${k} is not a variable the package reads`);
};

/** Packages lists are kept small and leave no apt lists behind (one RUN: update, install, clean). */
const aptRule: Rule = (stages) =>
  stages.flatMap((s) =>
    ofKind(s, 'RUN')
      .map(text)
      .filter((t) => /apt-get install/.test(t))
      .flatMap((t) => {
        const out: string[] = [];
        if (!/apt-get update/.test(t))
          out.push(`apt: stage ${s.name}: apt-get install without apt-get update in the same RUN`);
        if (!/install -y --no-install-recommends/.test(t))
          out.push(`apt: stage ${s.name}: apt-get install needs -y --no-install-recommends`);
        if (!/rm -rf \/var\/lib\/apt\/lists/.test(t))
          out.push(`apt: stage ${s.name}: the apt lists are left in the layer`);
        return out;
      }),
  );

export const RULES: readonly Rule[] = [
  stagesRule,
  baseImagesRule,
  nodeMajorRule,
  copyFromRule,
  contextSourcesRule,
  stageSourcesRule,
  buildStageRule,
  flavourRule,
  userRule,
  exposeRule,
  volumeRule,
  healthcheckRule,
  commandRule,
  envNamesRule,
  aptRule,
];

export function dockerfileProblems(content: string, facts: RepoFacts, flavour: Flavour): string[] {
  const stages = parseStages(content);
  if (!stages.length) return ['stages: no FROM'];
  return RULES.flatMap((rule) => rule(stages, facts, flavour));
}
