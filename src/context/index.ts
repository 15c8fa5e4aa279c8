/** Library configurations: createBgNative(), fromEnv(), the default context. */
export { createBgNative, type BgNative } from './create.js';
export { fromEnv, type Environment } from './from-env.js';
export { defaultContext, resetDefaultContext } from './default.js';
export type {
  BgNativeConfig,
  BgNativeSettings,
  DefaultDevice,
  DiffusionSource,
  HubConfig,
  HubSettings,
  LimitSettings,
  RunwayConfig,
  SegmentationSettings,
} from './settings.js';
