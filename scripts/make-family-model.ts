/**
 * npm run make-family-model -- --family
 *   birefnet-swin-t|birefnet-swin-l|birefnet-hr|sam-vit-b|sam-vit-l|sam-vit-h|ben2-base
 *   [--out file]
 * Writes a full-size random-weight replica of a model family (scripts/lib/birefnet-replica.ts,
 * sam-replica.ts, ben2-replica.ts) for the benchmark: `npm run bench:segment -- --model <file>`.
 * Default output: bg-native's cache folder (replicas/), never the repository. SAM writes the encoder and, beside
 * it, the decoder (`x.encoder.onnx` + `x.decoder.onnx`).
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { cacheDir } from '../src/models/resolve.js';
import { buildModel, tensorBytes, type ModelSpec } from '../test/helpers/onnx-builder.js';
import { BEN2_BASE, ben2Replica } from './lib/ben2-replica.js';
import { BIREFNET_FULL, birefnetReplica } from './lib/birefnet-replica.js';
import {
  SAM_DECODER,
  SAM_VIT_B,
  SAM_VIT_H,
  SAM_VIT_L,
  samDecoderReplica,
  samEncoderReplica,
} from './lib/sam-replica.js';

const FAMILIES = [
  'birefnet-swin-t',
  'birefnet-swin-l',
  'birefnet-hr',
  'sam-vit-b',
  'sam-vit-l',
  'sam-vit-h',
  'ben2-base',
] as const;

const { values } = parseArgs({ options: { family: { type: 'string' }, out: { type: 'string' } }, strict: true });
const family = values.family as (typeof FAMILIES)[number] | undefined;
if (!family || !FAMILIES.includes(family)) {
  console.error(`usage: npm run make-family-model -- --family ${FAMILIES.join('|')} [--out file.onnx]`);
  process.exit(2);
}
const dir = path.join(cacheDir(process.env), 'replicas');
const write = (file: string, bytes: Uint8Array) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  console.log(`${file}  ${(bytes.length / 1e6).toFixed(1)} MB`);
};
/**
 * A model over protobuf's 2 GiB limit (SAM ViT-H) as exporters write it: every initializer of 1 KiB
 * or more in `<file>.data` beside it (ONNX external data, 4096-byte aligned), the graph in `file`.
 */
const writeWithExternalData = (file: string, spec: ModelSpec) => {
  mkdirSync(path.dirname(file), { recursive: true });
  const dataName = `${path.basename(file)}.data`;
  const fd = openSync(path.join(path.dirname(file), dataName), 'w');
  let offset = 0;
  const initializers = (spec.initializers ?? []).map((t) => {
    const bytes = tensorBytes(t);
    if (bytes.length < 1024) return t;
    const at = Math.ceil(offset / 4096) * 4096;
    writeSync(fd, bytes, 0, bytes.length, at);
    offset = at + bytes.length;
    return {
      ...t,
      data: [],
      dims: t.dims,
      external: { location: dataName, offset: String(at), length: String(bytes.length) },
    };
  });
  closeSync(fd);
  console.log(`${file}.data  ${(offset / 1e6).toFixed(1)} MB`);
  write(file, buildModel({ ...spec, initializers }));
};
if (family === 'sam-vit-b' || family === 'sam-vit-l' || family === 'sam-vit-h') {
  const size = family.slice(-1);
  const enc = values.out ?? path.join(dir, `sam_vit_${size}_replica.encoder.onnx`);
  const encoder = samEncoderReplica(size === 'b' ? SAM_VIT_B : size === 'l' ? SAM_VIT_L : SAM_VIT_H);
  if (size === 'h') writeWithExternalData(enc, encoder);
  else write(enc, buildModel(encoder));
  write(enc.replace(/encoder(\.onnx)$/, 'decoder$1'), buildModel(samDecoderReplica(SAM_DECODER)));
} else if (family === 'ben2-base') {
  write(values.out ?? path.join(dir, 'BEN2_Base-replica.onnx'), buildModel(ben2Replica(BEN2_BASE)));
} else {
  const key = family === 'birefnet-swin-t' ? 'swin-t' : family === 'birefnet-swin-l' ? 'swin-l' : 'hr';
  const name = key === 'hr' ? 'BiRefNet_HR-replica.onnx' : `BiRefNet-${key}-replica.onnx`;
  write(values.out ?? path.join(dir, name), buildModel(birefnetReplica(BIREFNET_FULL[key])));
}
