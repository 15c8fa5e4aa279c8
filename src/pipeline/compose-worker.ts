/** The worker-thread entry of the compositing pool: one composeLayers call per task. */
import { Tinypool } from 'tinypool';

import { composeLayers, type LayersResult, type LayersTask } from '../compose/layers.js';

export default function run(task: LayersTask): unknown {
  const result: LayersResult = composeLayers(task);
  // Hand the pixel buffers back without copying them.
  return Tinypool.move({
    get [Tinypool.transferableSymbol]() {
      return [result.rgb.buffer, result.alpha.buffer];
    },
    get [Tinypool.valueSymbol]() {
      return result;
    },
  } as never);
}
