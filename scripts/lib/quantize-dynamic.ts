/**
 * Dynamic quantisation of a graph's matrix products, in the node pattern onnxruntime's
 * `quantize_dynamic` writes (the form rembg's `*.encoder.quant.onnx` / `*.decoder.quant.onnx`
 * SAM files take): every MatMul whose second input is a 2-D float initializer becomes
 *   DynamicQuantizeLinear(A) → A_quantized, A_scale, A_zero_point   (one per activation, shared)
 *   MatMulInteger(A_quantized, B_quantized, A_zero_point, B_zero_point) → int32
 *   Cast(to float) · (A_scale · B_scale)
 * with B quantised per tensor: uint8 asymmetric over [min(w, 0), max(w, 0)], or int8 symmetric
 * over ±max|w|. Other nodes and initializers are left as they are.
 */
import type { ModelSpec, NodeSpec, TensorSpec } from '../../test/helpers/onnx-builder.js';

export type WeightType = 'uint8' | 'int8';

/** Rounds half to even, as numpy does. */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Per-tensor quantisation of `w`: the integer values, scale and zero point. */
export function quantizeWeight(
  w: ArrayLike<number>,
  type: WeightType,
): { q: number[]; scale: number; zeroPoint: number } {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < w.length; i++) {
    lo = Math.min(lo, w[i]!);
    hi = Math.max(hi, w[i]!);
  }
  let scale: number;
  let zeroPoint: number;
  let qmin: number;
  let qmax: number;
  if (type === 'uint8') {
    [qmin, qmax] = [0, 255];
    scale = hi > lo ? (hi - lo) / 255 : 1;
    zeroPoint = Math.min(255, Math.max(0, roundEven(-lo / scale)));
  } else {
    [qmin, qmax] = [-127, 127];
    const m = Math.max(-lo, hi);
    scale = m > 0 ? m / 127 : 1;
    zeroPoint = 0;
  }
  scale = Math.fround(scale);
  const q = Array.from({ length: w.length }, (_, i) =>
    Math.min(qmax, Math.max(qmin, roundEven(w[i]! / scale) + zeroPoint)),
  );
  return { q, scale, zeroPoint };
}

/** `spec` with its constant-weight MatMuls dynamically quantised (a new spec; `spec` is untouched). */
export function quantizeDynamic(spec: ModelSpec, type: WeightType = 'uint8'): ModelSpec {
  const inits = new Map((spec.initializers ?? []).map((t) => [t.name, t]));
  const replaced = new Set<string>();
  const added: TensorSpec[] = [];
  const weights = new Map<string, { q: string; scale: string; zp: string }>();
  const activations = new Map<string, { q: string; scale: string; zp: string }>();
  const nodes: NodeSpec[] = [];
  let count = 0;

  const quantizedWeight = (name: string, t: TensorSpec) => {
    const known = weights.get(name);
    if (known) return known;
    const { q, scale, zeroPoint } = quantizeWeight(t.data as ArrayLike<number>, type);
    const names = { q: `${name}_quantized`, scale: `${name}_scale`, zp: `${name}_zero_point` };
    added.push({ name: names.q, dtype: type, dims: t.dims, data: q });
    added.push({ name: names.scale, dtype: 'float32', dims: [], data: [scale] });
    added.push({ name: names.zp, dtype: type, dims: [], data: [zeroPoint] });
    replaced.add(name);
    weights.set(name, names);
    return names;
  };

  for (const node of spec.nodes) {
    const w = node.op === 'MatMul' ? inits.get(node.inputs[1] ?? '') : undefined;
    if (w?.dtype !== 'float32' || w.dims.length !== 2) {
      nodes.push(node);
      continue;
    }
    const a = node.inputs[0]!;
    const out = node.outputs[0]!;
    const base = node.name ?? `MatMul_${count}`;
    count++;
    let act = activations.get(a);
    if (!act) {
      act = { q: `${a}_quantized`, scale: `${a}_scale`, zp: `${a}_zero_point` };
      const outputs = [act.q, act.scale, act.zp];
      nodes.push({ op: 'DynamicQuantizeLinear', inputs: [a], outputs, name: `${a}_QuantizeLinear` });
      activations.set(a, act);
    }
    const wq = quantizedWeight(node.inputs[1]!, w);
    const acc = `${out}_output_quantized`;
    const scales = `${out}_quant_scales_mul`;
    nodes.push(
      { op: 'MatMulInteger', inputs: [act.q, wq.q, act.zp, wq.zp], outputs: [acc], name: `${base}_quant` },
      { op: 'Mul', inputs: [act.scale, wq.scale], outputs: [scales], name: `${base}_scales_mul` },
      { op: 'Cast', inputs: [acc], outputs: [`${out}_cast`], name: `${base}_cast`, attrs: { to: 1 } },
      { op: 'Mul', inputs: [`${out}_cast`, scales], outputs: [out], name: `${base}_output_scale_mul` },
    );
  }
  // A weight still read by another node (a shared parameter outside a MatMul) keeps its float copy.
  const stillRead = new Set(nodes.flatMap((n) => n.inputs));
  const kept = (spec.initializers ?? []).filter((t) => !replaced.has(t.name) || stillRead.has(t.name));
  return { ...spec, nodes, initializers: [...kept, ...added] };
}

/** How many MatMuls `quantizeDynamic` turned into MatMulInteger. */
export function countQuantized(spec: ModelSpec): number {
  return spec.nodes.filter((n) => n.op === 'MatMulInteger').length;
}
