/**
 * A Dockerfile as stages, read with dockerfile-ast (the parser behind the Docker language server):
 * each stage's base image (global ARG defaults filled in), its instructions, and the few views the
 * rules need — RUN text, ENV values, exec-form commands, COPY sources and destinations.
 */
import path from 'node:path/posix';

import {
  DockerfileParser,
  type Copy,
  type Env,
  type From,
  type Healthcheck,
  type Instruction,
  type JSONInstruction,
} from 'dockerfile-ast';

export interface Stage {
  index: number;
  name: string | undefined;
  /** The base image with the global ARGs' defaults substituted, e.g. `nvidia/cuda:12.8.1-devel-ubuntu24.04`. */
  image: string;
  instructions: Instruction[];
}

export interface CopyStep {
  from: string | undefined;
  sources: string[];
  dest: string;
}

/** An instruction's arguments as one line (continuation lines joined). */
export function text(i: Instruction): string {
  return (i.getRawArgumentsContent() ?? '').replace(/\\\r?\n/g, ' ');
}

export function parseStages(content: string): Stage[] {
  const df = DockerfileParser.parse(content);
  const args = new Map<string, string>();
  for (const a of df.getInitialARGs()) {
    const p = a.getProperty();
    if (p) args.set(p.getName(), p.getValue() ?? '');
  }
  const fill = (s: string) =>
    s.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a?: string, b?: string) => args.get((a ?? b)!) ?? m);
  const stages: Stage[] = [];
  for (const i of df.getInstructions()) {
    if (i.getKeyword() === 'FROM') {
      const from = i as From;
      stages.push({
        index: stages.length,
        name: from.getBuildStage() ?? undefined,
        image: fill(from.getImage() ?? ''),
        instructions: [],
      });
    } else if (stages.length) stages.at(-1)!.instructions.push(i);
  }
  return stages;
}

export function ofKind<T extends Instruction = Instruction>(stage: Stage, keyword: string): T[] {
  return stage.instructions.filter((i) => i.getKeyword() === keyword) as T[];
}

export function runText(stage: Stage): string {
  return ofKind(stage, 'RUN').map(text).join('\n');
}

export function envOf(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const e of ofKind<Env>(stage, 'ENV'))
    for (const p of e.getProperties()) env.set(p.getName(), p.getValue() ?? '');
  return env;
}

/** The last WORKDIR of the stage (`/` without one). */
export function workdir(stage: Stage): string {
  const w = ofKind(stage, 'WORKDIR').at(-1);
  return w ? path.resolve('/', w.getArguments()[0]?.getValue() ?? '/') : '/';
}

export function copies(stage: Stage): CopyStep[] {
  return ofKind<Copy>(stage, 'COPY').map((c) => {
    const args = c.getArguments().map((a) => a.getValue());
    return { from: c.getFromFlag()?.getValue() ?? undefined, sources: args.slice(0, -1), dest: args.at(-1) ?? '' };
  });
}

/** CMD / ENTRYPOINT in exec form (`["node", "…"]`); undefined for the shell form. */
export function execForm(i: Instruction | undefined): string[] | undefined {
  if (!i) return undefined;
  const strings = (i as JSONInstruction).getJSONStrings();
  return strings.length ? strings.map((s) => s.getJSONValue()) : undefined;
}

/** The HEALTHCHECK's command in exec form and its flags (`interval`, `timeout`, …). */
export function healthcheckOf(stage: Stage): { command: string[] | undefined; flags: Map<string, string> } | undefined {
  const hc = ofKind<Healthcheck>(stage, 'HEALTHCHECK').at(-1);
  if (!hc) return undefined;
  const flags = new Map(hc.getFlags().map((f) => [f.getName(), f.getValue() ?? ''] as const));
  const raw = text(hc);
  const at = raw.search(/\bCMD\s*\[/);
  let command: string[] | undefined;
  try {
    command = at < 0 ? undefined : (JSON.parse(raw.slice(raw.indexOf('[', at))) as string[]);
  } catch {
    command = undefined;
  }
  return { command, flags };
}
