/**
 * The segmentation models bg-native knows by name: rembg's model zoo (the names `rembg -m` takes,
 * the files it keeps in $U2NET_HOME / ~/.u2net) plus a few checkpoints rembg reaches through a
 * custom session (BEN2) or that BiRefNet publishes beside it (matting, HR). Each entry says which
 * files stand for it (the name rembg saves it under first, then the release file name), its
 * family, the profile that prepares its input and reads its output, its native input size and
 * a licence note. Nothing here is downloaded: the files must already be there.
 */
import type { ModelProfileName } from '../options.js';

export type ModelFamily = 'isnet' | 'u2net' | 'birefnet' | 'ben2' | 'sam';

export interface CatalogEntry {
  /** The name `model:` takes (rembg's session name where rembg has one). */
  name: string;
  /** File names that stand for this model, best first (SAM: the encoder's). */
  files: readonly string[];
  family: ModelFamily;
  profile: Exclude<ModelProfileName, 'auto'>;
  /** Native input [height, width]. */
  size: readonly [number, number];
  licence: string;
  /** SAM: the prompt decoder's file names, one per encoder file (same order). */
  decoders?: readonly string[];
}

const BIREFNET_MIT = 'MIT (BiRefNet)';

function birefnet(name: string, release: string, profile: 'birefnet' | 'birefnet-hr' = 'birefnet'): CatalogEntry {
  const side = profile === 'birefnet-hr' ? 2048 : 1024;
  return {
    name,
    files: [`${name}.onnx`, release],
    family: 'birefnet',
    profile,
    size: [side, side],
    licence: BIREFNET_MIT,
  };
}

function sam(name: string): CatalogEntry {
  return {
    name,
    files: [`${name}.encoder.onnx`, `${name}.encoder.quant.onnx`],
    decoders: [`${name}.decoder.onnx`, `${name}.decoder.quant.onnx`],
    family: 'sam',
    profile: 'sam',
    size: [1024, 1024],
    licence: 'Apache-2.0 (Segment Anything)',
  };
}

export const CATALOG: readonly CatalogEntry[] = [
  {
    name: 'isnet-general-use',
    files: ['isnet-general-use.onnx'],
    family: 'isnet',
    profile: 'isnet',
    size: [1024, 1024],
    licence: 'Apache-2.0 (DIS)',
  },
  {
    name: 'isnet-anime',
    files: ['isnet-anime.onnx'],
    family: 'isnet',
    profile: 'isnet',
    size: [1024, 1024],
    licence: 'Apache-2.0 (anime-segmentation)',
  },
  {
    name: 'u2net',
    files: ['u2net.onnx'],
    family: 'u2net',
    profile: 'u2net',
    size: [320, 320],
    licence: 'Apache-2.0 (U²-Net)',
  },
  {
    name: 'u2netp',
    files: ['u2netp.onnx'],
    family: 'u2net',
    profile: 'u2net',
    size: [320, 320],
    licence: 'Apache-2.0 (U²-Net)',
  },
  {
    name: 'u2net_human_seg',
    files: ['u2net_human_seg.onnx'],
    family: 'u2net',
    profile: 'u2net',
    size: [320, 320],
    licence: 'Apache-2.0 (U²-Net)',
  },
  {
    name: 'silueta',
    files: ['silueta.onnx'],
    family: 'u2net',
    profile: 'u2net',
    size: [320, 320],
    licence: 'U²-Net derivative (see rembg)',
  },
  birefnet('birefnet-general', 'BiRefNet-general-epoch_244.onnx'),
  birefnet('birefnet-general-lite', 'BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx'),
  birefnet('birefnet-massive', 'BiRefNet-massive-TR_DIS5K_TR_TEs-epoch_420.onnx'),
  birefnet('birefnet-portrait', 'BiRefNet-portrait-epoch_150.onnx'),
  birefnet('birefnet-dis', 'BiRefNet-DIS-epoch_590.onnx'),
  birefnet('birefnet-hrsod', 'BiRefNet-HRSOD_DHU-epoch_115.onnx'),
  birefnet('birefnet-cod', 'BiRefNet-COD-epoch_125.onnx'),
  birefnet('birefnet-matting', 'BiRefNet-matting-epoch_100.onnx'),
  birefnet('birefnet-hr', 'BiRefNet_HR-general-epoch_130.onnx', 'birefnet-hr'),
  birefnet('birefnet-hr-matting', 'BiRefNet_HR-matting-epoch_135.onnx', 'birefnet-hr'),
  {
    name: 'bria-rmbg',
    files: ['bria-rmbg.onnx', 'bria-rmbg-2.0.onnx'],
    family: 'birefnet',
    profile: 'birefnet',
    size: [1024, 1024],
    licence: 'CC BY-NC 4.0 (BRIA RMBG-2.0): non-commercial use only',
  },
  {
    name: 'ben2-base',
    files: ['BEN2_Base.onnx', 'ben2-base.onnx'],
    family: 'ben2',
    profile: 'ben2',
    size: [1024, 1024],
    licence: 'MIT (BEN2 Base)',
  },
  { ...sam('sam_vit_b_01ec64'), name: 'sam' },
  sam('sam_vit_b_01ec64'),
  sam('sam_vit_l_0b3195'),
  sam('sam_vit_h_4b8939'),
];

/** The entry `model:` names (case-insensitive), if any. */
export function catalogEntry(name: string): CatalogEntry | undefined {
  const key = name.trim().toLowerCase();
  return CATALOG.find((e) => e.name.toLowerCase() === key);
}

/** The entry a file stands for, by its name (the first entry that lists it), if any. */
export function entryForFile(fileName: string): CatalogEntry | undefined {
  const base = fileName.toLowerCase();
  return CATALOG.find(
    (e) => e.files.some((f) => f.toLowerCase() === base) || e.decoders?.some((f) => f.toLowerCase() === base),
  );
}

/** A SAM decoder file name for an encoder file name (`x.encoder[.quant].onnx` → `x.decoder[.quant].onnx`). */
export function samDecoderName(encoderFile: string): string | undefined {
  const m = /^(.*)([._-])encoder((?:[._-]quant)?\.onnx)$/i.exec(encoderFile);
  return m ? `${m[1]}${m[2]}decoder${m[3]}` : undefined;
}
