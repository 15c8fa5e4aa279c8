/**
 * Writes small .safetensors files for tests: F32 tensors from numbers, in the given order, with
 * an optional __metadata__ map.
 */
import { writeFileSync } from 'node:fs';

export interface WriteTensor {
  shape: number[];
  data: ArrayLike<number>;
}

export function writeSafetensors(
  file: string,
  tensors: Record<string, WriteTensor>,
  metadata?: Record<string, string>,
): void {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const t of Object.values(tensors)) {
    for (let i = 0; i < t.data.length; i++) out.writeFloatLE(t.data[i]!, at + 4 * i);
    at += 4 * t.data.length;
  }
  writeFileSync(file, out);
}
