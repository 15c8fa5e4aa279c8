/**
 * Writes the seed corpora of the libFuzzer harnesses (native/fuzz/corpus/<harness>/) from the
 * project's own writers: safetensors files from the checkpoint writer, ONNX models from the
 * test ONNX builder, config/tokenizer/prompt texts written here. Small on purpose: the fuzzer
 * grows its own corpus in build-fuzz/. Regression inputs for fixed findings live beside the
 * seeds as `regress-*` and are never rewritten by this script.
 *
 *   npx tsx scripts/fuzz-seeds.ts
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { buildModel } from '../test/helpers/onnx-builder.js';
import { redSubjectModel } from '../test/helpers/tiny-models.js';
import { writeGguf, type GgufTensorType } from './lib/gguf-writer.js';
import { writeCheckpoint, type TensorSpec } from './lib/sd-checkpoint.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'native', 'fuzz', 'corpus');
function put(harness: string, name: string, data: string | Uint8Array): void {
  const dir = path.join(root, harness);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), data);
}

// ---- safetensors -----------------------------------------------------------------------------
const tmp = mkdtempSync(path.join(tmpdir(), 'bgn-seeds-'));
const small: TensorSpec[] = [
  { name: 'a.weight', shape: [2, 3], init: { kind: 'normal', std: 1 } },
  { name: 'a.bias', shape: [3], init: { kind: 'ones' } },
  { name: 'pos', shape: [1, 4], init: { kind: 'arange' }, intDtype: 'I64' },
  { name: 'scalar', shape: [], init: { kind: 'const', value: 0.5 } },
  { name: 'empty', shape: [0, 4], init: { kind: 'zeros' } },
];
for (const dtype of ['f32', 'f16', 'bf16'] as const) {
  const file = path.join(tmp, `${dtype}.safetensors`);
  writeCheckpoint(file, small, { dtype, seed: 1, metadata: { note: 'seed' } });
  put('safetensors', `tiny-${dtype}.safetensors`, readFileSync(file));
}
function rawSafetensors(header: unknown, data: Uint8Array): Uint8Array {
  const body = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([len, body, data]);
}
put(
  'safetensors',
  'all-dtypes.safetensors',
  rawSafetensors(
    {
      f64: { dtype: 'F64', shape: [1], data_offsets: [0, 8] },
      i32: { dtype: 'I32', shape: [1], data_offsets: [8, 12] },
      i16: { dtype: 'I16', shape: [1], data_offsets: [12, 14] },
      i8: { dtype: 'I8', shape: [1], data_offsets: [14, 15] },
      u8: { dtype: 'U8', shape: [1], data_offsets: [15, 16] },
      b: { dtype: 'BOOL', shape: [1], data_offsets: [16, 17] },
      odd: { dtype: 'F32', shape: [1], data_offsets: [17, 21] },
    },
    new Uint8Array(21),
  ),
);
// ---- GGUF ------------------------------------------------------------------------------------
for (const type of ['f32', 'f16', 'q8_0', 'q4_K'] as GgufTensorType[]) {
  const file = path.join(tmp, `${type}.gguf`);
  const n = type === 'q4_K' ? 256 : 32;
  writeGguf(
    file,
    [
      { name: 'w', shape: [2, n], type, data: Float32Array.from({ length: 2 * n }, (_, i) => Math.sin(i)) },
      { name: 'b', shape: [3], type: 'f32', data: new Float32Array([1, 2, 3]) },
    ],
    {
      metadata: {
        'general.architecture': 'sd1',
        'general.name': 'seed',
        flag: true,
        count: { type: 'u32', value: 7 },
        big: { type: 'i64', value: -5n },
        ratio: { type: 'f64', value: 0.5 },
        list: { type: 'array', of: 'string', values: ['a', 'bc'] },
        ints: { type: 'array', of: 'i16', values: [1, -2, 3] },
      },
    },
  );
  put('gguf', `tiny-${type}.gguf`, readFileSync(file));
}
rmSync(tmp, { recursive: true, force: true });

// ---- ONNX ------------------------------------------------------------------------------------
put('onnx', 'red-subject.onnx', buildModel(redSubjectModel(8)));
put(
  'onnx',
  'typed-attrs.onnx',
  buildModel({
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 'n', null] }],
    outputs: [{ name: 'y', shape: [1] }],
    initializers: [
      { name: 'f', dtype: 'float32', dims: [2], data: [1, 2], encoding: 'typed' },
      { name: 'd', dtype: 'float64', dims: [2], data: [1, 2], encoding: 'typed' },
      { name: 'i', dtype: 'int64', dims: [2], data: [1n, -2n], encoding: 'typed' },
      { name: 'h', dtype: 'float16', dims: [1], data: [0.5], encoding: 'typed' },
      { name: 'u', dtype: 'uint8', dims: [3], data: [1, 2, 3] },
      { name: 'k', dtype: 'bool', dims: [1], data: [1], encoding: 'typed' },
    ],
    nodes: [
      {
        op: 'Add',
        inputs: ['x', 'f'],
        outputs: ['t'],
        attrs: {
          alpha: 0.5,
          axes: [0, 1],
          scales: [0.5, 2.5],
          mode: 'linear',
          strs: { type: 'strings', value: ['a', 'b'] },
        },
      },
      {
        op: 'Identity',
        inputs: ['t', ''],
        outputs: ['y'],
        domain: 'com.microsoft',
        attrs: {
          value: { type: 'tensor', value: { name: 'c', dtype: 'int32', dims: [1], data: [7], encoding: 'typed' } },
        },
      },
    ],
    extraOpsets: { 'com.microsoft': 1 },
  }),
);

// ---- config.json / scheduler_config.json -----------------------------------------------------
put(
  'config_json',
  'scheduler.json',
  JSON.stringify(
    {
      _class_name: 'EulerDiscreteScheduler',
      num_train_timesteps: 1000,
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      prediction_type: 'epsilon',
      timestep_spacing: 'leading',
      steps_offset: 1,
      use_karras_sigmas: false,
      trained_betas: null,
      clip_sample: false,
      set_alpha_to_one: false,
    },
    null,
    2,
  ),
);
put(
  'config_json',
  'dpm.json',
  JSON.stringify({
    _class_name: 'DPMSolverMultistepScheduler',
    algorithm_type: 'dpmsolver++',
    solver_order: 2,
    solver_type: 'midpoint',
    lower_order_final: true,
    lambda_min_clipped: -1e30,
    trained_betas: [0.001, 0.002, 0.003],
    timestep_spacing: 'trailing',
    rescale_betas_zero_snr: true,
    prediction_type: 'v_prediction',
  }),
);
put(
  'config_json',
  'unet.json',
  JSON.stringify({
    _class_name: 'UNet2DConditionModel',
    sample_size: 64,
    in_channels: 4,
    block_out_channels: [320, 640, 1280, 1280],
    attention_head_dim: 8,
    cross_attention_dim: 768,
    use_linear_projection: false,
    act_fn: 'silu',
    scaling_factor: 0.18215,
  }),
);
put(
  'config_json',
  'python-literals.json',
  '{"a": NaN, "b": -Infinity, "c": Infinity, "d": 1e308, "e": -0.0, "f": 9223372036854775807, "g": ' +
    '18446744073709551616, "s": "\\u00e9\\ud83d\\ude00\\n", "n": [null, true, false, {}, []]}',
);

// ---- tokenizer files: vocab.json NUL merges.txt ----------------------------------------------
const vocab: Record<string, number> = { '<|startoftext|>': 0, '<|endoftext|>': 1, '!': 2 };
for (const w of [
  'a',
  'c',
  't',
  'h',
  'o',
  'p',
  'f',
  'ca',
  'cat</w>',
  'a</w>',
  'ph',
  'photo</w>',
  'of</w>',
  'Ġ',
  'é</w>',
])
  vocab[w] = Object.keys(vocab).length;
put(
  'tokenizer_files',
  'small',
  `${JSON.stringify(vocab)}\0#version: 0.2\nc a\nca t</w>\np h\nph o\nt o</w>\no f</w>\n`,
);
put('tokenizer_files', 'crlf', `{"<|startoftext|>": 0, "<|endoftext|>": 1, "x</w>": 2}\0#version: 0.2\r\nx y\r\n\r\n`);

// ---- prompts ---------------------------------------------------------------------------------
const prompts: Record<string, string> = {
  plain: 'a product photo of a ceramic mug on a marble table, soft light',
  emphasis: '(masterpiece:1.3), ((sharp focus)), [blurry], (studio lighting:0.8), \\(literal\\) text',
  break: 'a red bottle BREAK on a wooden shelf BREAK (morning sun:1.2)',
  unbalanced: '((unclosed [brackets and) stray ] parens (x:abc) (y:1.2.3) :0.5)',
  unicode: 'café Ünïcödé 東京 👟 ﬁ \u200b tab\tnewline\n<|endoftext|> !',
  long: Array.from({ length: 120 }, (_, i) => `word${i}`).join(', '),
};
for (const [name, text] of Object.entries(prompts)) put('prompt', name, text);
console.log(`seed corpora written under ${root}`);
