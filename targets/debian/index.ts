// The `debian` Target: the standalone executable as .deb for amd64 and arm64, in the
// `bookworm` suite of the signed apt repository dist/apt (docs/debian.md).
import type { Arch } from '../arch.ts';
import type { BuildInputs, Target } from '../target.ts';
import { APT_READERS } from '../formats/apt/inspect.ts';
import { buildSuite, planSuite, suiteNeeds, type SuiteConfig } from '../formats/apt/target-kit.ts';

export const SUITE: SuiteConfig = {
  target: 'debian',
  suite: 'bookworm',
  description: 'Debian 12 (bookworm) and later: standalone executables for amd64 and arm64',
  executableArches: ['x64', 'arm64'],
};

export const debianTarget: Target = {
  name: 'debian',
  arches: SUITE.executableArches as readonly Arch[],
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
