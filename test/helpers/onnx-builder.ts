/**
 * A small ONNX writer for tests: encodes ModelProto files in protobuf wire format by hand (no
 * protobuf library), so single-op and small multi-op graphs can be generated in a test, run by
 * bg-native and by onnxruntime-node, and compared.
 *
 * Field numbers are those of onnx/onnx.proto (IR version 8 by default, opset 13 by default).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// ---- protobuf wire format ---------------------------------------------------------------------------

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Accumulates one protobuf message. */
export class PbWriter {
  private parts: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }

  private rawVarint(v: bigint): void {
    // int64 fields: negative values are their 64-bit two's complement (10 bytes).
    let x = BigInt.asUintN(64, v);
    const out: number[] = [];
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) byte |= 0x80;
      out.push(byte);
    } while (x !== 0n);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(BigInt((field << 3) | wire));
  }

  varint(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  double(field: number, v: number): this {
    this.tag(field, WIRE_I64);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.push(b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(BigInt(b.length));
    this.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: PbWriter): this {
    return this.bytes(field, m.finish());
  }

  /** A packed repeated varint field (int64 / int32 arrays). */
  packedVarints(field: number, values: readonly (number | bigint)[]): this {
    const inner = new PbWriter();
    for (const v of values) inner.rawVarint(typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));
    return this.bytes(field, inner.finish());
  }

  /** A packed repeated float field. */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < values.length; ++i) dv.setFloat32(i * 4, values[i]!, true);
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

// ---- ONNX types -------------------------------------------------------------------------------------

export type DataType = 'float32' | 'uint8' | 'int8' | 'int32' | 'int64' | 'bool' | 'float16' | 'float64';

/** TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DataType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
};

/** Rounds a float32 value to IEEE half precision (round to nearest even), returning the bits. */
export function f32ToF16Bits(value: number): number {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  f[0] = value;
  const x = u[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> Inf
  if (e <= 0) {
    // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half += 1; // may carry into the exponent: still correct
  return sign | half;
}

/** Half-precision bits to a number. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The value `x` takes after a round trip through float16. */
export function roundF16(x: number): number {
  return f16BitsToF32(f32ToF16Bits(x));
}

export interface TensorSpec {
  name: string;
  dtype: DataType;
  dims: readonly number[];
  /** Values in row-major order (float16 values are given as numbers and rounded when encoded). */
  data: ArrayLike<number> | readonly bigint[];
  /** 'raw' (default): raw_data bytes; 'typed': float_data / int32_data / int64_data fields. */
  encoding?: 'raw' | 'typed';
  /**
   * The ONNX external data format instead: data_location EXTERNAL and these entries (strings as
   * written; offset and length left out when absent). The caller writes the bytes (tensorBytes).
   */
  external?: { location: string; offset?: string; length?: string };
}

/** A tensor's values as the little-endian bytes raw_data (or an external data file) holds. */
export function tensorBytes(t: TensorSpec): Uint8Array {
  return rawBytes(t);
}

function rawBytes(t: TensorSpec): Uint8Array {
  const n = t.data.length;
  const d = t.data as ArrayLike<number | bigint>;
  const num = (i: number) => Number(d[i]!);
  switch (t.dtype) {
    case 'float32':
      return new Uint8Array(Float32Array.from({ length: n }, (_, i) => num(i)).buffer);
    case 'float64':
      return new Uint8Array(Float64Array.from({ length: n }, (_, i) => num(i)).buffer);
    case 'float16':
      return new Uint8Array(Uint16Array.from({ length: n }, (_, i) => f32ToF16Bits(num(i))).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from({ length: n }, (_, i) => BigInt(d[i]!)).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from({ length: n }, (_, i) => num(i)).buffer);
    case 'int8':
      return new Uint8Array(Int8Array.from({ length: n }, (_, i) => num(i)).buffer);
    case 'uint8':
    case 'bool':
      return Uint8Array.from({ length: n }, (_, i) => num(i));
  }
}

/** Encodes a TensorProto. */
export function encodeTensor(t: TensorSpec): PbWriter {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (!t.external && count !== t.data.length)
    throw new Error(`tensor ${t.name}: dims ${JSON.stringify(t.dims)} need ${count} values, got ${t.data.length}`);
  const w = new PbWriter();
  w.packedVarints(1, t.dims);
  w.varint(2, ONNX_DTYPE[t.dtype]);
  w.string(8, t.name);
  if (t.external) {
    for (const [key, value] of Object.entries(t.external))
      if (value !== undefined) w.message(13, new PbWriter().string(1, key).string(2, value));
    w.varint(14, 1);
    return w;
  }
  if ((t.encoding ?? 'raw') === 'raw') {
    w.bytes(9, rawBytes(t));
    return w;
  }
  const d = t.data as ArrayLike<number | bigint>;
  const values = Array.from({ length: t.data.length }, (_, i) => d[i]!);
  switch (t.dtype) {
    case 'float32':
      w.packedFloats(4, values.map(Number));
      break;
    case 'float64':
      for (const v of values) w.double(10, Number(v));
      break;
    case 'int64':
      w.packedVarints(
        7,
        values.map((v) => BigInt(v)),
      );
      break;
    case 'float16':
      w.packedVarints(
        5,
        values.map((v) => f32ToF16Bits(Number(v))),
      );
      break;
    default:
      w.packedVarints(
        5,
        values.map((v) => Number(v)),
      );
  }
  return w;
}

export type AttrValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number | bigint }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: TensorSpec }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'ints'; value: readonly (number | bigint)[] }
  | { type: 'strings'; value: readonly string[] };

/** Explicit attribute constructors (plain values are inferred: see `inferAttr`). */
export const attr = {
  float: (value: number): AttrValue => ({ type: 'float', value }),
  int: (value: number | bigint): AttrValue => ({ type: 'int', value }),
  string: (value: string): AttrValue => ({ type: 'string', value }),
  tensor: (value: TensorSpec): AttrValue => ({ type: 'tensor', value }),
  floats: (value: readonly number[]): AttrValue => ({ type: 'floats', value }),
  ints: (value: readonly (number | bigint)[]): AttrValue => ({ type: 'ints', value }),
  strings: (value: readonly string[]): AttrValue => ({ type: 'strings', value }),
};

/**
 * Plain attribute values: integer → INT, other number → FLOAT, string → STRING, number[] → INTS (all integers) or
 * FLOATS.
 */
export type PlainAttr = number | string | readonly number[] | AttrValue;

function inferAttr(v: PlainAttr): AttrValue {
  if (typeof v === 'number') return Number.isInteger(v) ? attr.int(v) : attr.float(v);
  if (typeof v === 'string') return attr.string(v);
  if (Array.isArray(v))
    return (v as number[]).every((x) => Number.isInteger(x)) ? attr.ints(v as number[]) : attr.floats(v as number[]);
  return v as AttrValue;
}

function encodeAttribute(name: string, v: AttrValue): PbWriter {
  const w = new PbWriter();
  w.string(1, name);
  switch (v.type) {
    case 'float':
      w.float(2, v.value).varint(20, 1);
      break;
    case 'int':
      w.varint(3, typeof v.value === 'bigint' ? v.value : BigInt(v.value)).varint(20, 2);
      break;
    case 'string':
      w.string(4, v.value).varint(20, 3);
      break;
    case 'tensor':
      w.message(5, encodeTensor(v.value)).varint(20, 4);
      break;
    case 'floats':
      w.packedFloats(7, v.value).varint(20, 6);
      break;
    case 'ints':
      w.packedVarints(
        8,
        v.value.map((x) => (typeof x === 'bigint' ? x : BigInt(x))),
      ).varint(20, 7);
      break;
    case 'strings':
      for (const s of v.value) w.string(9, s);
      w.varint(20, 8);
      break;
  }
  return w;
}

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, PlainAttr>;
}

export interface ValueSpec {
  name: string;
  dtype?: DataType;
  /** A number is a fixed dimension, a string a symbolic one, null an unknown one; omit for no shape. */
  shape?: readonly (number | string | null)[];
}

export interface ModelSpec {
  inputs: readonly ValueSpec[];
  outputs: readonly ValueSpec[];
  nodes: readonly NodeSpec[];
  initializers?: readonly TensorSpec[];
  /** ai.onnx opset version (default 13). */
  opset?: number;
  /** Extra opset imports (domain → version). */
  extraOpsets?: Record<string, number>;
  irVersion?: number;
  producer?: string;
  graphName?: string;
}

function encodeValueInfo(v: ValueSpec): PbWriter {
  const tensorType = new PbWriter().varint(1, ONNX_DTYPE[v.dtype ?? 'float32']);
  if (v.shape) {
    const shape = new PbWriter();
    for (const d of v.shape) {
      const dim = new PbWriter();
      if (typeof d === 'number') dim.varint(1, d);
      else if (typeof d === 'string') dim.string(2, d);
      shape.message(1, dim);
    }
    tensorType.message(2, shape);
  }
  const type = new PbWriter().message(1, tensorType);
  return new PbWriter().string(1, v.name).message(2, type);
}

/** Encodes a ModelProto. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const graph = new PbWriter();
  spec.nodes.forEach((n, i) => {
    const node = new PbWriter();
    for (const x of n.inputs) node.string(1, x);
    for (const x of n.outputs) node.string(2, x);
    node.string(3, n.name ?? `${n.op.toLowerCase()}_${i}`);
    node.string(4, n.op);
    for (const [k, v] of Object.entries(n.attrs ?? {})) node.message(5, encodeAttribute(k, inferAttr(v)));
    if (n.domain) node.string(7, n.domain);
    graph.message(1, node);
  });
  graph.string(2, spec.graphName ?? 'test_graph');
  for (const t of spec.initializers ?? []) graph.message(5, encodeTensor(t));
  for (const v of spec.inputs) graph.message(11, encodeValueInfo(v));
  for (const v of spec.outputs) graph.message(12, encodeValueInfo(v));

  const model = new PbWriter();
  model.varint(1, spec.irVersion ?? 8);
  model.string(2, spec.producer ?? 'bg-native-tests');
  model.message(7, graph);
  model.message(8, new PbWriter().string(1, '').varint(2, spec.opset ?? 13));
  for (const [domain, version] of Object.entries(spec.extraOpsets ?? {}))
    model.message(8, new PbWriter().string(1, domain).varint(2, version));
  return model.finish();
}

// ---- files ------------------------------------------------------------------------------------------

let tmpRoot: string | undefined;

/**
 * A scratch folder for generated models, one per module instance (per test file under vitest,
 * which removes it after the file: test/helpers/scratch-cleanup.ts; per process elsewhere).
 */
export function modelTmpDir(): string {
  if (!tmpRoot) {
    tmpRoot = path.join(os.tmpdir(), `bgn-onnx-${process.pid}-${randomBytes(4).toString('hex')}`);
    mkdirSync(tmpRoot, { recursive: true });
    process.once('exit', removeModelTmpDir);
  }
  return tmpRoot;
}

/** Removes the scratch folder and what was written there; the next model starts a new one. */
export function removeModelTmpDir(): void {
  if (tmpRoot) rmSync(tmpRoot, { recursive: true, force: true });
  tmpRoot = undefined;
}

let counter = 0;

/** Writes a model (spec or encoded bytes) to a fresh file and returns its path. Every call gets a new name. */
export function writeModel(model: ModelSpec | Uint8Array, label = 'model'): string {
  const bytes = model instanceof Uint8Array ? model : buildModel(model);
  const file = path.join(modelTmpDir(), `${label.replace(/[^a-zA-Z0-9_-]/g, '_')}-${++counter}.onnx`);
  writeFileSync(file, bytes);
  return file;
}

// ---- deterministic random data ------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniform values in [lo, hi). */
export function randomArray(rand: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; ++i) out[i] = lo + (hi - lo) * rand();
  return out;
}

// ---- reading (for tests that corrupt files) -------------------------------------------------------

export interface FieldSpan {
  field: number;
  wire: number;
  /** Offset of the tag. */
  start: number;
  /** Offset just past the field's value. */
  end: number;
}

/** The top-level fields of a protobuf message (stops at the first malformed field). */
export function scanFields(b: Uint8Array): FieldSpan[] {
  const out: FieldSpan[] = [];
  let o = 0;
  const varint = (): number => {
    let v = 0,
      mul = 1;
    for (;;) {
      if (o >= b.length) throw new Error('truncated');
      const byte = b[o++]!;
      v += (byte & 0x7f) * mul;
      mul *= 128;
      if (!(byte & 0x80)) return v;
    }
  };
  try {
    while (o < b.length) {
      const start = o;
      const tag = varint();
      const wire = tag & 7;
      if (wire === WIRE_VARINT) varint();
      else if (wire === WIRE_I64) o += 8;
      else if (wire === WIRE_I32) o += 4;
      else if (wire === WIRE_LEN) {
        const len = varint();
        o += len;
      } else break;
      if (o > b.length) break;
      out.push({ field: Math.floor(tag / 8), wire, start, end: o });
    }
  } catch {
    // truncated: return what was read
  }
  return out;
}
