/**
 * A SAM prompt decoder run on both engines with the same feeds — the image embeddings of an 8×8,
 * 16-wide replica and two prompts (points with a padding point; a box plus a point) — for the
 * parity tests of the float and the quantised decoder.
 */
import ort from 'onnxruntime-node';

import { randomArray, rng } from './onnx-builder.js';
import { loadOurs } from './onnx-run.js';

export interface DecoderRun {
  /** Our outputs, in the graph's order. */
  got: { name: string; shape: number[]; data: Float32Array }[];
  /** onnxruntime's outputs by name. */
  ref: ort.InferenceSession.OnnxValueMapType;
}

const PROMPTS: [number[], number[]][] = [
  [
    [100, 200, 700, 900, 0, 0],
    [1, 0, -1],
  ],
  [
    [300, 200, 50, 40, 800, 600],
    [1, 2, 3],
  ],
];

export async function runSamDecoderBoth(file: string): Promise<DecoderRun[]> {
  const ours = await loadOurs(file);
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  try {
    const emb = randomArray(rng(7), 16 * 64, -1, 1);
    const runs: DecoderRun[] = [];
    for (const [coords, labels] of PROMPTS) {
      const n = labels.length;
      const feeds: Record<string, [Float32Array, number[]]> = {
        image_embeddings: [emb, [1, 16, 8, 8]],
        point_coords: [Float32Array.from(coords), [1, n, 2]],
        point_labels: [Float32Array.from(labels), [1, n]],
        mask_input: [new Float32Array(32 * 32), [1, 1, 32, 32]],
        has_mask_input: [new Float32Array(1), [1]],
        orig_im_size: [Float32Array.from([48, 64]), [2]],
      };
      const ortFeeds = Object.fromEntries(
        Object.entries(feeds).map(([k, [d, s]]) => [k, new ort.Tensor('float32', d, s)]),
      );
      const ref = await session.run(ortFeeds);
      const ourFeeds = ours.inputs.map((i) => ({ data: feeds[i.name]![0], shape: feeds[i.name]![1] }));
      const got = await ours.runInputs(ourFeeds, { outputs: 'all' });
      runs.push({ got, ref });
    }
    return runs;
  } finally {
    ours.dispose();
    await session.release();
  }
}
