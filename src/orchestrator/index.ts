/**
 * Workflow nodes for JSON orchestrators: `runWorkflowNode({ type, parameters }, context)` fills
 * the parameters' `{{var}}` templates from the context (see template.ts), runs the operation
 * in-process and answers with the result format (src/result-format.ts) — JSON only, the
 * artifacts as absolute paths (`mask: null` when it is not written):
 *
 *   { op, engine, engineFamily, preset, seed, artifacts: { output, mask }, metrics: { elapsed_ms, stages },
 *     engineReason, promptType, prompt, width, height, format, model, … }
 *
 * A cleanup answers with engine/engineFamily 'none', preset and seed null, and its `mode`.
 *
 * Node types:
 *   background-replace  replaceBackground; parameters are its options, with `input` (or
 *                       `imagePath` / `inputPath`), `output` (or `outputPath`; default
 *                       `<name>.bg.png` next to the input) and `mask` (default
 *                       `<output name>.mask.png` beside the output; false = not written)
 *   background-cleanup  cleanup, with the same input/output/mask parameters
 */
import path from 'node:path';

import { BgNativeError, toBgError } from '../errors.js';
import { writeFileAtomic } from '../image/atomic-write.js';
import type { BgNative } from '../context/create.js';
import type { CleanupOptions, ReplaceOptions, ReplaceProgress } from '../options.js';
import { toResultMetadata, type ResultMetadata } from '../result-format.js';
import { renderTemplate } from './template.js';

export { renderTemplate } from './template.js';

export const NODE_TYPES = ['background-replace', 'background-cleanup'] as const;
export type WorkflowNodeType = (typeof NODE_TYPES)[number];

export interface WorkflowNode {
  type: WorkflowNodeType | string;
  /** Operation options; strings may hold `{{var}}` templates. */
  parameters?: Record<string, unknown>;
  /** Optional label used in error messages. */
  name?: string;
}

export interface WorkflowNodeOptions {
  signal?: AbortSignal;
  onProgress?: (p: ReplaceProgress) => void;
  /** The library configuration the node runs with (default: the package's, from process.env). */
  library?: BgNative;
}

/** The result format, JSON-serialisable. */
export type WorkflowNodeResult = ResultMetadata;

function takePath(p: Record<string, unknown>, names: string[], label: string, node: string): string | undefined {
  const given = names.filter((n) => p[n] !== undefined);
  if (given.length > 1)
    throw new BgNativeError(
      'E_BAD_INPUT',
      `${node}: give only one of ${given.map((n) => `\`${n}\``).join(', ')} (the ${label}).`,
    );
  const name = given[0];
  if (name === undefined) return undefined;
  const v = p[name];
  delete p[name];
  if (typeof v !== 'string' || !v.trim())
    throw new BgNativeError(
      'E_BAD_INPUT',
      `${node}: \`${name}\` must be a file path (the ${label}), got ${JSON.stringify(v)}.`,
    );
  return v;
}

/** Runs one workflow node; throws BgNativeError (E_BAD_INPUT for bad parameters or templates). */
export async function runWorkflowNode(
  node: WorkflowNode,
  context: Record<string, unknown> = {},
  options: WorkflowNodeOptions = {},
): Promise<WorkflowNodeResult> {
  if (node === null || typeof node !== 'object')
    throw new BgNativeError('E_BAD_INPUT', 'A workflow node must be an object { type, parameters }.');
  const label = node.name ? `node "${node.name}"` : `node ${JSON.stringify(node.type)}`;
  if (!NODE_TYPES.includes(node.type as WorkflowNodeType)) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `Unknown workflow node type ${JSON.stringify(node.type)}; this package runs ` +
        `${NODE_TYPES.map((t) => `'${t}'`).join(' and ')}.`,
    );
  }
  if (
    node.parameters !== undefined &&
    (node.parameters === null || typeof node.parameters !== 'object' || Array.isArray(node.parameters))
  ) {
    throw new BgNativeError('E_BAD_INPUT', `${label}: \`parameters\` must be an object.`);
  }
  const params = renderTemplate({ ...(node.parameters ?? {}) }, context, 'parameters');
  const input = takePath(params, ['input', 'imagePath', 'inputPath'], 'photo', label);
  if (!input)
    throw new BgNativeError(
      'E_BAD_INPUT',
      `${label}: give the photo as \`input\` (or \`imagePath\`), e.g. "{{media.path}}".`,
    );
  const replace = node.type === 'background-replace';
  const output =
    takePath(params, ['output', 'outputPath'], 'result file', label) ??
    path.join(path.dirname(input), `${path.basename(input, path.extname(input))}.bg.png`);
  let maskPath: string | null;
  if (params.mask === false) {
    maskPath = null;
    delete params.mask;
  } else {
    maskPath =
      takePath(params, ['mask', 'maskPath'], 'mask file', label) ??
      path.join(path.dirname(output), `${path.basename(output, path.extname(output))}.mask.png`);
  }
  const mask = maskPath ? path.resolve(maskPath) : null;
  const signal = options.signal;
  try {
    const lib = options.library ?? (await import('../context/default.js')).defaultContext();
    if (replace) {
      const r = await lib.replaceBackground({
        ...params,
        input,
        output,
        ...(signal ? { signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      } as ReplaceOptions);
      if (maskPath) await writeFileAtomic(maskPath, r.artifacts.mask);
      return toResultMetadata(r, { output: r.artifacts.output as string, mask });
    }
    const r = await lib.cleanup({ ...params, input, output } as CleanupOptions);
    if (maskPath) await writeFileAtomic(maskPath, r.artifacts.mask);
    return toResultMetadata(r, { output: r.artifacts.output as string, mask });
  } catch (err) {
    throw toBgError(err);
  }
}
