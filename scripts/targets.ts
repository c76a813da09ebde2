// The one list of OS/image targets (like nfpm's packager registry), in the build's
// composition root: the only file that names them. Target names (--target, the manifest,
// artifacts.json), inspect readers, publishers and the CLI help are all derived from it; a
// target owner adds one import and one list item. The build runs targets in this order
// except where a target's `needs` puts it after the targets that provide them.
import type { Pusher, Reader, Target } from '../targets/target.ts';
import { ociTarget } from '../images/oci/index.ts';
import { openwrtIpkTarget } from '../targets/openwrt-24.10/index.ts';
import { apkTarget } from '../targets/openwrt-25.12/index.ts';
import { debianTarget } from '../targets/debian/index.ts';
import { raspbianTarget } from '../targets/raspbian/index.ts';
import { diskTarget } from '../images/disk/index.ts';
import { rhelTarget } from '../targets/rhel/index.ts';

export const TARGETS: readonly Target[] = [
  debianTarget,
  raspbianTarget,
  openwrtIpkTarget,
  apkTarget,
  ociTarget,
  diskTarget,
  rhelTarget,
];

/** Names a build may ask for; also artifacts.json's `target` (schemas are checked against it). */
export const TARGET_NAMES: readonly string[] = TARGETS.map((t) => t.name);

/** Every target's inspect readers in registry order; a format two targets share is listed once. */
export const TARGET_READERS: readonly Reader[] = TARGETS.flatMap((t) => t.readers ?? []).filter(
  (r, i, all) => all.findIndex((x) => x.name === r.name) === i,
);

/** `edgewan-build push` publishers by target name. */
export const PUSHERS: Readonly<Record<string, Pusher>> = Object.fromEntries(
  TARGETS.filter((t) => t.push).map((t) => [t.name, t.push!]),
);
