// Which cached root an image starts from: the mmdebstrap base root (rootfs.ts) for a UEFI
// box, the Pi layer on its UEFI twin's root (rpi-root.ts) for a Raspberry Pi. The one place
// that knows both, so neither imports the other's caller.
import type { ImageDefinition } from './definition.ts';
import { cachedBaseRoot, rootKey, rootSpec } from './rootfs.ts';
import { cachedPiRoot, piRootName } from './rpi-root.ts';

/** The cache directory name of the definition's root. */
export function rootName(d: ImageDefinition): string {
  return d.board === 'rpi' ? piRootName(d) : rootKey(rootSpec(d));
}

/** The cached root for the definition, built when absent. Returns its path. */
export function cachedRoot(d: ImageDefinition, cacheDir: string, log: (s: string) => void): string {
  return d.board === 'rpi' ? cachedPiRoot(d, cacheDir, log) : cachedBaseRoot(d, cacheDir, log);
}
