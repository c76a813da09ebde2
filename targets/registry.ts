// The one list of OS/image targets the build runs (like nfpm's packager registry). Each
// target owner adds one import and one list item; the build filters it by --target and the
// manifest's `targets`. Order is the order they run in.
import type { Target } from './target.ts';
import { ociTarget } from '../images/oci/target.ts';
import { openwrtIpkTarget } from './openwrt/target.ts';
import { apkTarget } from './openwrt/apk/target.ts';
import { debianTarget } from './debian/index.ts';
import { raspbianTarget } from './raspbian/index.ts';
import { diskTarget } from '../images/disk/target.ts';

export const TARGETS: Target[] = [
  ociTarget,
  openwrtIpkTarget,
  apkTarget,
  debianTarget,
  raspbianTarget,
  // disk installs the .deb from the apt repo debian writes: keep it after debian
  diskTarget,
];

/** artifacts.json `target` names a build may ask for (also the manifest schema's enum). */
export const TARGET_NAMES = ['debian', 'raspbian', 'openwrt-24.10', 'openwrt-25.12', 'oci', 'disk'] as const;
