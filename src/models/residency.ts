/**
 * Memory over speed, or speed over memory. By default a model's weights are let go while another
 * large model works (the UNet while the full VAE runs, the segmentation models while a local
 * generation runs) and loaded again when next needed, so that peak memory stays near the largest
 * model's size. BGN_KEEP_WEIGHTS_RESIDENT=1 keeps everything loaded (the same variable the native
 * core reads): faster when the machine has the memory.
 */
export function keepWeightsResident(): boolean {
  const v = process.env.BGN_KEEP_WEIGHTS_RESIDENT;
  return v !== undefined && v !== '' && v !== '0';
}
