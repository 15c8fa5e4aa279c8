/**
 * LoRA settings as text: `file.safetensors[:scale]` (the CLI's --lora, repeatable) and the
 * comma-separated list in env BG_LORAS, the local engine's default when neither the call nor the
 * preset names LoRAs. A scale is a number from -4 to 4 (default 1); a trailing `:<number>` is read
 * as the scale, so Windows drive letters and other colons in paths stay part of the path.
 */
import { BgNativeError } from '../errors.js';
import type { LoraOption } from '../native.js';

/** `file[:scale]` → { path, scale }; `code` (E_BAD_INPUT) for an empty path or a scale outside -4..4. */
export function parseLoraSpec(
  spec: string,
  what = '--lora',
  code: 'E_BAD_INPUT' | 'E_CONFIG' = 'E_BAD_INPUT',
): Required<LoraOption> {
  const m = /^(.*):([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)$/i.exec(spec.trim());
  const file = (m ? m[1]! : spec).trim();
  const scale = m ? Number(m[2]) : 1;
  if (!file) throw new BgNativeError(code, `${what} needs a .safetensors file, optionally with :scale (got "${spec}")`);
  if (!(scale >= -4 && scale <= 4)) {
    throw new BgNativeError(code, `${what} ${spec}: the LoRA scale must be from -4 to 4.`);
  }
  return { path: file, scale };
}

/** BG_LORAS: "a.safetensors:0.8,b.safetensors" → LoRAs; undefined when unset or empty. */
export function lorasFromEnv(env: NodeJS.ProcessEnv): Required<LoraOption>[] | undefined {
  const v = env.BG_LORAS?.trim();
  if (!v) return undefined;
  return v
    .split(',')
    .filter((s) => s.trim())
    .map((s) => parseLoraSpec(s, 'BG_LORAS', 'E_CONFIG'));
}
