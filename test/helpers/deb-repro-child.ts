// Child process of test/integration/deb-repro.test.ts: runs the debian and raspbian Targets
// once, in a process whose TZ and umask the parent chose, and prints their artifacts.json
// entries. Inputs (executable, bundle, key, mtime, dirs) come as one JSON argument so both
// runs get exactly the same ones.
import { readFileSync } from 'node:fs';
import { debianTarget } from '../../targets/debian/index.ts';
import { raspbianTarget } from '../../targets/raspbian/index.ts';
import type { BuildInputs, PackageInfo } from '../../targets/target.ts';

interface Args {
  info: PackageInfo;
  mtime: number;
  outDir: string;
  cacheDir: string;
  exeX64: string;
  bundle: string;
  licenses: string;
  keyFile: string;
}

const a = JSON.parse(process.argv[2]) as Args;
const inputs: BuildInputs = {
  info: a.info,
  mtime: a.mtime,
  outDir: a.outDir,
  cacheDir: a.cacheDir,
  executables: { x64: a.exeX64 },
  bundle: a.bundle,
  licenses: a.licenses,
  sboms: {},
  keys: { openpgpPrivate: readFileSync(a.keyFile, 'utf8') },
  log: () => {},
};
const artifacts = [];
for (const target of [debianTarget, raspbianTarget]) {
  target.validate(inputs);
  artifacts.push(...(await target.build(inputs)));
}
process.stdout.write(`${JSON.stringify(artifacts)}\n`);
