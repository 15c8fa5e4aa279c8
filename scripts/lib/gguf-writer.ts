/**
 * A streaming GGUF v3 writer (the ggml / llama.cpp / stable-diffusion.cpp single-file format) with
 * quantizers for the common block types, so tests and `make-random-model --format gguf` can make
 * files other runtimes read.
 *
 *   "GGUF", u32 version 3, u64 tensor count, u64 metadata count
 *   metadata: string key, u32 value type, value        (string = u64 byte length + UTF-8)
 *   tensor infos: name, u32 n_dims, u64 ne[n_dims] (fastest dimension first), u32 ggml type,
 *                 u64 offset into the data section (a multiple of general.alignment)
 *   padding to the alignment, then the tensor data
 *
 * Block layouts (elements per block / bytes per block): q8_0 32/34, q4_0 32/18, q4_1 32/20,
 * q5_0 32/22, q5_1 32/24, q4_K 256/144, q5_K 256/176, q6_K 256/210, q8_K 256/292 — the same
 * layouts native/tensor/quant.h documents and reads. Quantization is round-to-nearest with
 * per-block scales (no importance weighting): simple, deterministic, good enough for tests and
 * benchmarks.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export type GgufTensorType =
  | 'f32'
  | 'f16'
  | 'bf16'
  | 'q8_0'
  | 'q4_0'
  | 'q4_1'
  | 'q5_0'
  | 'q5_1'
  | 'q4_K'
  | 'q5_K'
  | 'q6_K'
  | 'q8_K';
export const GGUF_TENSOR_TYPES: readonly GgufTensorType[] = [
  'f32',
  'f16',
  'bf16',
  'q8_0',
  'q4_0',
  'q4_1',
  'q5_0',
  'q5_1',
  'q4_K',
  'q5_K',
  'q6_K',
  'q8_K',
];

/** ggml type ids as stored in tensor infos. */
export const GGML_TYPE_ID: Record<GgufTensorType, number> = {
  f32: 0,
  f16: 1,
  q4_0: 2,
  q4_1: 3,
  q5_0: 6,
  q5_1: 7,
  q8_0: 8,
  q4_K: 12,
  q5_K: 13,
  q6_K: 14,
  q8_K: 15,
  bf16: 30,
};
/** [elements per block, bytes per block]. */
export const BLOCK: Record<GgufTensorType, [number, number]> = {
  f32: [1, 4],
  f16: [1, 2],
  bf16: [1, 2],
  q8_0: [32, 34],
  q4_0: [32, 18],
  q4_1: [32, 20],
  q5_0: [32, 22],
  q5_1: [32, 24],
  q4_K: [256, 144],
  q5_K: [256, 176],
  q6_K: [256, 210],
  q8_K: [256, 292],
};
/** general.file_type (llama.cpp's "mostly X" enum) for a file whose large tensors are of `t`. */
export const FILE_TYPE: Partial<Record<GgufTensorType, number>> = {
  f32: 0,
  f16: 1,
  q4_0: 2,
  q4_1: 3,
  q8_0: 7,
  q5_0: 8,
  q5_1: 9,
  q4_K: 14,
  q5_K: 16,
  q6_K: 18,
  bf16: 32,
};

/** Bytes of n elements of type t (n a multiple of the block size). */
export function typeBytes(t: GgufTensorType, n: number): number {
  const [bs, bb] = BLOCK[t];
  if (n % bs !== 0) throw new Error(`${n} values are not whole ${t} blocks of ${bs}`);
  return (n / bs) * bb;
}

// ---- scalar encodings ---------------------------------------------------------------------------

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** IEEE half bits, round to nearest even. */
export function f16Bits(x: number): number {
  f32buf[0] = x;
  const b = u32buf[0]!;
  const sign = (b >>> 16) & 0x8000;
  const abs = b & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0);
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs < 0x38800000) {
    if (abs < 0x33000000) return sign;
    const mant = (abs & 0x7fffff) | 0x800000;
    const shift = 113 - (abs >>> 23) + 13;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) ++half;
    return sign | half;
  }
  let half = (abs - 0x38000000) >>> 13;
  const rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) ++half;
  return sign | half;
}
export function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
export function bf16Bits(x: number): number {
  f32buf[0] = x;
  const b = u32buf[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** f32 rounding of a double (scales are computed in f32 like the native reader's arithmetic). */
const fround = Math.fround;
const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
/** Round half to even, as lrintf does. */
function rint(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ---- block quantizers -------------------------------------------------------------------------

function signedMax(x: Float32Array, o: number, n: number): number {
  let amax = 0;
  let v = 0;
  for (let i = 0; i < n; ++i) {
    const a = Math.abs(x[o + i]!);
    if (a > amax) {
      amax = a;
      v = x[o + i]!;
    }
  }
  return v;
}

function putF16(dv: DataView, at: number, x: number): number {
  const h = f16Bits(x);
  dv.setUint16(at, h, true);
  return f16Value(h);
}

function qQ8_0(x: Float32Array, o: number, dv: DataView, at: number): void {
  let amax = 0;
  for (let i = 0; i < 32; ++i) amax = Math.max(amax, Math.abs(x[o + i]!));
  const d = putF16(dv, at, fround(amax / 127));
  const id = d ? fround(1 / d) : 0;
  for (let i = 0; i < 32; ++i) dv.setInt8(at + 2 + i, clamp(rint(fround(x[o + i]! * id)), -127, 127));
}

function qLegacy(x: Float32Array, o: number, dv: DataView, at: number, bits: 4 | 5, offset: boolean): void {
  const levels = 1 << bits;
  let d: number;
  let m = 0;
  let p = at;
  if (offset) {
    let mn = x[o]!;
    let mx = x[o]!;
    for (let i = 1; i < 32; ++i) (mn = Math.min(mn, x[o + i]!)), (mx = Math.max(mx, x[o + i]!));
    d = putF16(dv, p, fround((mx - mn) / (levels - 1)));
    m = putF16(dv, p + 2, mn);
    p += 4;
  } else {
    d = putF16(dv, p, fround(signedMax(x, o, 32) / -(levels / 2)));
    p += 2;
  }
  const id = d ? fround(1 / d) : 0;
  const q = new Int32Array(32);
  for (let i = 0; i < 32; ++i)
    q[i] = offset
      ? clamp(rint(fround(fround(x[o + i]! - m) * id)), 0, levels - 1)
      : clamp(rint(fround(x[o + i]! * id)) + levels / 2, 0, levels - 1);
  if (bits === 5) {
    let qh = 0;
    for (let j = 0; j < 32; ++j) qh |= ((q[j]! >> 4) & 1) << j;
    dv.setUint32(p, qh >>> 0, true);
    p += 4;
  }
  for (let j = 0; j < 16; ++j) dv.setUint8(p + j, (q[j]! & 0xf) | ((q[j + 16]! & 0xf) << 4));
}

/** The 8 six-bit scales and mins of a q4_K / q5_K block into 12 bytes. */
function packScaleMin(sc: Int32Array, mq: Int32Array, dv: DataView, at: number): void {
  for (let j = 0; j < 4; ++j) {
    dv.setUint8(at + j, (sc[j]! & 63) | ((sc[j + 4]! >> 4) << 6));
    dv.setUint8(at + j + 4, (mq[j]! & 63) | ((mq[j + 4]! >> 4) << 6));
    dv.setUint8(at + j + 8, (sc[j + 4]! & 0xf) | ((mq[j + 4]! & 0xf) << 4));
  }
}

function qKAffine(x: Float32Array, o: number, dv: DataView, at: number, bits: 4 | 5): void {
  const top = (1 << bits) - 1;
  const scale = new Float64Array(8);
  const mins = new Float64Array(8);
  let dmax = 0;
  let mmax = 0;
  for (let s = 0; s < 8; ++s) {
    let lo = 0;
    let hi = x[o + 32 * s]!;
    for (let i = 0; i < 32; ++i) (lo = Math.min(lo, x[o + 32 * s + i]!)), (hi = Math.max(hi, x[o + 32 * s + i]!));
    hi = Math.max(hi, lo);
    scale[s] = fround((hi - lo) / top);
    mins[s] = -lo;
    dmax = Math.max(dmax, scale[s]!);
    mmax = Math.max(mmax, mins[s]!);
  }
  const d = putF16(dv, at, fround(dmax / 63));
  const dmin = putF16(dv, at + 2, fround(mmax / 63));
  const sc = new Int32Array(8);
  const mq = new Int32Array(8);
  for (let s = 0; s < 8; ++s) {
    sc[s] = d ? clamp(rint(fround(scale[s]! / d)), 0, 63) : 0;
    mq[s] = dmin ? clamp(rint(fround(mins[s]! / dmin)), 0, 63) : 0;
  }
  packScaleMin(sc, mq, dv, at + 4);
  const q = new Int32Array(256);
  for (let s = 0; s < 8; ++s) {
    const ed = fround(d * sc[s]!);
    const em = fround(dmin * mq[s]!);
    for (let i = 0; i < 32; ++i)
      q[32 * s + i] = ed ? clamp(rint(fround(fround(x[o + 32 * s + i]! + em) / ed)), 0, top) : 0;
  }
  const qh = bits === 5 ? at + 16 : -1;
  const qs = bits === 5 ? at + 48 : at + 16;
  for (let c = 0; c < 4; ++c)
    for (let l = 0; l < 32; ++l) {
      const lo = q[64 * c + l]!;
      const hi = q[64 * c + 32 + l]!;
      dv.setUint8(qs + 32 * c + l, (lo & 0xf) | ((hi & 0xf) << 4));
      if (qh >= 0)
        dv.setUint8(qh + l, dv.getUint8(qh + l) | (((lo >> 4) & 1) << (2 * c)) | (((hi >> 4) & 1) << (2 * c + 1)));
    }
}

function qQ6_K(x: Float32Array, o: number, dv: DataView, at: number): void {
  const scale = new Float64Array(16);
  let amax = 0;
  for (let s = 0; s < 16; ++s) {
    scale[s] = fround(signedMax(x, o + 16 * s, 16) / -32);
    amax = Math.max(amax, Math.abs(scale[s]!));
  }
  const d = putF16(dv, at + 208, fround(amax / 127));
  const q = new Int32Array(256);
  for (let s = 0; s < 16; ++s) {
    const sc = d ? clamp(rint(fround(scale[s]! / d)), -128, 127) : 0;
    dv.setInt8(at + 192 + s, sc);
    const ed = fround(d * sc);
    for (let i = 0; i < 16; ++i) q[16 * s + i] = (ed ? clamp(rint(fround(x[o + 16 * s + i]! / ed)), -32, 31) : 0) + 32;
  }
  for (let n = 0; n < 2; ++n)
    for (let l = 0; l < 32; ++l) {
      const b = 128 * n;
      dv.setUint8(at + 64 * n + l, (q[b + l]! & 0xf) | ((q[b + l + 64]! & 0xf) << 4));
      dv.setUint8(at + 64 * n + l + 32, (q[b + l + 32]! & 0xf) | ((q[b + l + 96]! & 0xf) << 4));
      dv.setUint8(
        at + 128 + 32 * n + l,
        (q[b + l]! >> 4) | ((q[b + l + 32]! >> 4) << 2) | ((q[b + l + 64]! >> 4) << 4) | ((q[b + l + 96]! >> 4) << 6),
      );
    }
}

function qQ8_K(x: Float32Array, o: number, dv: DataView, at: number): void {
  let amax = 0;
  for (let i = 0; i < 256; ++i) amax = Math.max(amax, Math.abs(x[o + i]!));
  const d = fround(amax / 127);
  const id = d ? fround(1 / d) : 0;
  dv.setFloat32(at, d, true);
  for (let j = 0; j < 16; ++j) {
    let s = 0;
    for (let i = 0; i < 16; ++i) {
      const q = clamp(rint(fround(x[o + 16 * j + i]! * id)), -127, 127);
      dv.setInt8(at + 4 + 16 * j + i, q);
      s += q;
    }
    dv.setInt16(at + 260 + 2 * j, s, true);
  }
}

/** Encodes x (a whole number of blocks of t) into out (typeBytes(t, x.length) bytes). */
export function quantize(t: GgufTensorType, x: Float32Array, out: Uint8Array): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const [bs, bb] = BLOCK[t];
  const blocks = x.length / bs;
  if (!Number.isInteger(blocks)) throw new Error(`${x.length} values are not whole ${t} blocks of ${bs}`);
  if (out.byteLength < blocks * bb) throw new Error('quantize: output buffer too small');
  for (let b = 0; b < blocks; ++b) {
    const o = b * bs;
    const at = b * bb;
    switch (t) {
      case 'f32':
        dv.setFloat32(at, x[o]!, true);
        break;
      case 'f16':
        dv.setUint16(at, f16Bits(x[o]!), true);
        break;
      case 'bf16':
        dv.setUint16(at, bf16Bits(x[o]!), true);
        break;
      case 'q8_0':
        qQ8_0(x, o, dv, at);
        break;
      case 'q4_0':
        qLegacy(x, o, dv, at, 4, false);
        break;
      case 'q4_1':
        qLegacy(x, o, dv, at, 4, true);
        break;
      case 'q5_0':
        qLegacy(x, o, dv, at, 5, false);
        break;
      case 'q5_1':
        qLegacy(x, o, dv, at, 5, true);
        break;
      case 'q4_K':
        qKAffine(x, o, dv, at, 4);
        break;
      case 'q5_K':
        qKAffine(x, o, dv, at, 5);
        break;
      case 'q6_K':
        qQ6_K(x, o, dv, at);
        break;
      case 'q8_K':
        qQ8_K(x, o, dv, at);
        break;
    }
  }
}

/**
 * The type stable-diffusion.cpp's converter would give a tensor when asked for `want`: block
 * types only for weight matrices (rank ≥ 2) whose rows are whole blocks; other weights (e.g.
 * 3×3 kernels, rows of 3) f16; 1-D tensors (biases, norms) f32.
 */
export function typeFor(shape: number[], want: GgufTensorType): GgufTensorType {
  if (shape.length < 2) return 'f32';
  const [bs] = BLOCK[want];
  return shape[shape.length - 1]! % bs === 0 ? want : 'f16';
}

// ---- metadata -----------------------------------------------------------------------------------

export type GgufScalarKind =
  | 'u8'
  | 'i8'
  | 'u16'
  | 'i16'
  | 'u32'
  | 'i32'
  | 'f32'
  | 'bool'
  | 'string'
  | 'u64'
  | 'i64'
  | 'f64';
export type GgufValue =
  | string
  | boolean
  | { type: GgufScalarKind; value: number | bigint | string | boolean }
  | { type: 'array'; of: GgufScalarKind; values: (number | bigint | string | boolean)[] };

const KIND_ID: Record<GgufScalarKind | 'array', number> = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
};

class Bytes {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.push(b);
  }
  u64(v: number | bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  scalar(kind: GgufScalarKind, v: number | bigint | string | boolean): void {
    const b = Buffer.alloc(8);
    switch (kind) {
      case 'u8':
        b.writeUInt8(Number(v));
        this.push(b.subarray(0, 1));
        return;
      case 'i8':
        b.writeInt8(Number(v));
        this.push(b.subarray(0, 1));
        return;
      case 'bool':
        b.writeUInt8(v ? 1 : 0);
        this.push(b.subarray(0, 1));
        return;
      case 'u16':
        b.writeUInt16LE(Number(v));
        this.push(b.subarray(0, 2));
        return;
      case 'i16':
        b.writeInt16LE(Number(v));
        this.push(b.subarray(0, 2));
        return;
      case 'u32':
        b.writeUInt32LE(Number(v));
        this.push(b.subarray(0, 4));
        return;
      case 'i32':
        b.writeInt32LE(Number(v));
        this.push(b.subarray(0, 4));
        return;
      case 'f32':
        b.writeFloatLE(Number(v));
        this.push(b.subarray(0, 4));
        return;
      case 'u64':
        b.writeBigUInt64LE(BigInt(v));
        this.push(b);
        return;
      case 'i64':
        b.writeBigInt64LE(BigInt(v));
        this.push(b);
        return;
      case 'f64':
        b.writeDoubleLE(Number(v));
        this.push(b);
        return;
      case 'string':
        this.str(String(v));
        return;
    }
  }
  concat(): Buffer {
    return Buffer.concat(this.parts);
  }
}

// ---- the file -------------------------------------------------------------------------------------

export interface GgufTensor {
  name: string;
  /** Outermost first (PyTorch order); written reversed as ggml's ne[]. */
  shape: number[];
  type: GgufTensorType;
  /**
   * The values, row-major f32: either all of them, or a function giving `count` values from
   * element `start` (called with whole rows, so block types always see whole blocks).
   */
  data: Float32Array | ((start: number, count: number) => Float32Array);
}

export interface GgufWriteOptions {
  metadata?: Record<string, GgufValue>;
  alignment?: number;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

const CHUNK_VALUES = 1 << 21;

/** Writes a GGUF v3 file, streaming tensor data in chunks of whole rows. Returns its size. */
export function writeGguf(path: string, tensors: GgufTensor[], opts: GgufWriteOptions = {}): number {
  const alignment = opts.alignment ?? 32;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0)
    throw new Error('alignment must be a power of two');
  const meta: Record<string, GgufValue> = { 'general.alignment': { type: 'u32', value: alignment }, ...opts.metadata };
  if (alignment === 32 && !opts.metadata?.['general.alignment']) delete meta['general.alignment'];

  const h = new Bytes();
  h.push(Buffer.from('GGUF', 'latin1'));
  h.u32(3);
  h.u64(tensors.length);
  h.u64(Object.keys(meta).length);
  for (const [key, v] of Object.entries(meta)) {
    h.str(key);
    if (typeof v === 'string') {
      h.u32(KIND_ID.string);
      h.str(v);
    } else if (typeof v === 'boolean') {
      h.u32(KIND_ID.bool);
      h.scalar('bool', v);
    } else if (v.type === 'array') {
      h.u32(KIND_ID.array);
      h.u32(KIND_ID[v.of]);
      h.u64(v.values.length);
      for (const x of v.values) h.scalar(v.of, x);
    } else {
      h.u32(KIND_ID[v.type]);
      h.scalar(v.type, v.value);
    }
  }
  const sizes: number[] = [];
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const rowLen = t.shape.length ? t.shape[t.shape.length - 1]! : 1;
    if (rowLen % BLOCK[t.type][0] !== 0)
      throw new Error(`${t.name}: rows of ${rowLen} values are not whole ${t.type} blocks`);
    const bytes = typeBytes(t.type, n);
    offsets.push(offset);
    sizes.push(bytes);
    h.str(t.name);
    h.u32(t.shape.length);
    for (let d = t.shape.length - 1; d >= 0; --d) h.u64(t.shape[d]!);
    h.u32(GGML_TYPE_ID[t.type]);
    h.u64(offset);
    offset += bytes;
    offset = Math.ceil(offset / alignment) * alignment;
  }
  const pad = (alignment - (h.length % alignment)) % alignment;
  h.push(Buffer.alloc(pad));
  const header = h.concat();
  const total = header.length + offset;

  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header, 0, header.length, 0);
    let done = header.length;
    tensors.forEach((t, k) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const rowLen = t.shape.length ? t.shape[t.shape.length - 1]! : 1;
      const rowsPerChunk = Math.max(1, Math.floor(CHUNK_VALUES / Math.max(1, rowLen)));
      let pos = header.length + offsets[k]!;
      for (let start = 0; start < n; start += rowsPerChunk * rowLen) {
        const count = Math.min(rowsPerChunk * rowLen, n - start);
        const values = typeof t.data === 'function' ? t.data(start, count) : t.data.subarray(start, start + count);
        if (values.length !== count)
          throw new Error(`${t.name}: expected ${count} values from element ${start}, got ${values.length}`);
        const out = new Uint8Array(typeBytes(t.type, count));
        quantize(t.type, values, out);
        writeSync(fd, out, 0, out.length, pos);
        pos += out.length;
        done += out.length;
        opts.onProgress?.(done, total);
      }
    });
    // The file ends at the aligned end of the last tensor.
    const last = tensors.length
      ? header.length + offsets[tensors.length - 1]! + sizes[tensors.length - 1]!
      : header.length;
    if (total > last) writeSync(fd, Buffer.alloc(total - last), 0, total - last, last);
  } finally {
    closeSync(fd);
  }
  return total;
}
