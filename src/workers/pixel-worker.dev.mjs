// The compositing worker when bg-native runs from its TypeScript sources (tests, tsx): worker
// threads do not inherit tsx's loader, so register it here, then load the real entry.
import { register } from 'tsx/esm/api';

register();
const { default: run } = await import('./pixel-worker.ts');
export default run;
