// The `raspbian` Target (Raspberry Pi OS), suite `rpi` of dist/apt:
// - arm64 (64-bit Raspberry Pi OS): the standalone executable, listed in binary-arm64;
// - all: the bundle on the distribution's nodejs (>= 18) with a /usr/bin wrapper, listed in
//   binary-armhf only, for 32-bit Raspberry Pi OS. Raspberry Pi OS builds nodejs for ARMv6,
//   so this also serves the Pi Zero and Pi 1 (untested: ARMv6 cannot run here,
//   docs/platform-notes.md §7).
// Listing the `all` package only under armhf keeps one candidate per machine: an arm64 Pi
// never sees the bundle package, an armhf Pi never sees the arm64 one.
import type { Arch } from '../arch.ts';
import type { BuildInputs, Target } from '../target.ts';
import { APT_READERS } from '../formats/apt/inspect.ts';
import { buildSuite, planSuite, suiteNeeds, type SuiteConfig } from '../formats/apt/target-kit.ts';

export const SUITE: SuiteConfig = {
  target: 'raspbian',
  suite: 'rpi',
  description: 'Raspberry Pi OS (bookworm): arm64 standalone executable; armhf bundle on the system nodejs',
  executableArches: ['arm64'],
  bundleIndexArch: 'armhf',
};

export const raspbianTarget: Target = {
  name: 'raspbian',
  // armv7 is listed so a `--arch armv7` build still runs this target: it yields the `all`
  // package (bundle), which is what 32-bit Raspberry Pi OS installs.
  arches: ['arm64', 'armv7'] as readonly Arch[],
  readers: APT_READERS,
  provides: ['deb', 'apt-repo'],
  owns: [`apt/pool/${SUITE.suite}`, `apt/dists/${SUITE.suite}`],
  hostNeeds: () => suiteNeeds(SUITE),
  validate(inputs: BuildInputs) {
    planSuite(inputs, SUITE);
  },
  build(inputs: BuildInputs) {
    return buildSuite(inputs, SUITE);
  },
};
