// What `npm run build` left in dist/: artifacts.json matches the schema and the files, every
// executable is the right ELF, runs on its arch (qemu for arm) and reports that arch, the
// SBOMs name the bundled packages and the pinned runtime, SHA256SUMS verifies — all read back
// through `edgewan-build inspect`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARCHES, type Arch } from '../../targets/arch.ts';
import { inspect } from '../../scripts/inspect.ts';
import { loadManifest } from '../../scripts/manifest.ts';
import { REPO_ROOT } from '../../scripts/paths.ts';
import { loadLock } from '../../scripts/runtimes.ts';
import { NODE_ARCH } from '../../scripts/sea.ts';

const DIST = loadManifest(REPO_ROOT, undefined).outDir;
interface Entry {
  type: string;
  path: string;
  arch?: string;
  sha256: string;
  size: number;
  runtime?: { node: string; eol: boolean };
}

function artifacts(): Entry[] {
  return JSON.parse(readFileSync(join(DIST, 'artifacts.json'), 'utf8')) as Entry[];
}

test('artifacts.json is valid, sorted, and every hash matches (inspect)', async () => {
  const r = (await inspect(join(DIST, 'artifacts.json'))) as {
    allVerified: boolean;
    artifacts: (Entry & { verified: boolean })[];
  };
  assert.equal(r.allVerified, true, JSON.stringify(r.artifacts.filter((a) => !a.verified)));
  const paths = r.artifacts.map((a) => a.path);
  assert.deepEqual(paths, [...paths].sort(), 'sorted by path');
  for (const t of ['bundle', 'sbom', 'checksums', 'executable'])
    assert.ok(
      r.artifacts.some((a) => a.type === t),
      t,
    );
});

test('each executable: right ELF, runs on its arch, pinned runtime and eol flag', async () => {
  const lock = loadLock();
  const exes = artifacts().filter((a) => a.type === 'executable');
  assert.ok(exes.length >= 1);
  for (const e of exes) {
    const arch = e.arch as Arch;
    assert.equal(e.path, `bin/${ARCHES[arch].executable}`);
    assert.deepEqual(e.runtime, { node: lock.executables[arch].version, eol: lock.executables[arch].eol });
    const r = (await inspect(join(DIST, e.path))) as {
      elf: { arch: string; machine: number };
      version: string | null;
    };
    assert.equal(r.elf.arch, arch);
    assert.equal(r.elf.machine, ARCHES[arch].elfMachine);
    assert.match(
      r.version ?? '',
      new RegExp(
        `runtime=node-v${lock.executables[arch].version.replace(/\./g, '\\.')} arch=${NODE_ARCH[arch]} platform=linux$`,
      ),
    );
  }
});

test("license notices: each executable and every package that ships one carry Node.js's LICENSE; OpenWRT and OCI also the glibc set's", () => {
  const NODE = 'Node.js is licensed for use as follows';
  const bundled = readFileSync(join(DIST, 'bin/edgewan.cjs.LICENSES.txt'), 'utf8')
    .split('\n')
    .find((l) => / — /.test(l))!;
  const sh = (cmd: string) => {
    const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
    return r.stdout;
  };
  const all = artifacts();
  for (const e of all.filter((a) => a.type === 'executable')) {
    const text = readFileSync(join(DIST, `${e.path}.LICENSES.txt`), 'utf8');
    assert.ok(
      text.includes(NODE) && text.includes(bundled),
      `${e.path}.LICENSES.txt: Node's LICENSE and the bundle's notices`,
    );
  }
  const debs = all.filter((a) => a.type === 'deb' && a.arch !== 'noarch');
  const ipks = all.filter((a) => a.type === 'ipk' && a.arch !== 'noarch');
  assert.ok(
    debs.length > 0 && ipks.length > 0,
    'the default build makes .deb and .ipk packages of the executable',
  );
  for (const d of debs) {
    const text = sh(
      `dpkg-deb --fsys-tarfile '${join(DIST, d.path)}' | tar -xO ./usr/share/doc/edgewan/third-party-notices.txt.gz | gzip -dc`,
    );
    assert.ok(text.includes(NODE) && text.includes(bundled), `${d.path}: third-party-notices.txt.gz`);
  }
  for (const i of ipks) {
    // .ipk = tar.gz of debian-binary, control.tar.gz, data.tar.gz
    const text = sh(
      `tar -xzOf '${join(DIST, i.path)}' ./data.tar.gz | tar -xzO ./usr/lib/edgewan/LICENSES.txt.gz | gzip -dc`,
    );
    assert.ok(
      text.includes(NODE) &&
        text.includes(bundled) &&
        /^Debian packages? libc6/m.test(text) &&
        /^Debian packages? .*libstdc\+\+6/m.test(text) &&
        text.includes('GCC RUNTIME LIBRARY EXCEPTION'),
      `${i.path}: LICENSES.txt.gz`,
    );
  }
});

test(
  'x64 executable answers --help',
  { skip: !artifacts().some((a) => a.arch === 'x64' && a.type === 'executable') },
  () => {
    const r = spawnSync(join(DIST, 'bin/edgewan-linux-x64'), ['--help'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: edgewan/);
  },
);

test('bundle: runs on the host Node, ships its map and notices', async () => {
  const r = (await inspect(join(DIST, 'bin/edgewan.cjs'))) as {
    version: string;
    sourceMap: { sources: number } | null;
    licenses: unknown;
  };
  assert.match(r.version, /^edgewan \S+ commit=\S+ runtime=node-v/);
  assert.ok(r.sourceMap && r.sourceMap.sources > 0);
  assert.ok(r.licenses);
});

test('SBOMs: SPDX 2.3, bundled packages, and the pinned runtime with its sha256', async () => {
  const lock = loadLock();
  const bundleSbom = JSON.parse(readFileSync(join(DIST, 'sbom/edgewan.cjs.spdx.json'), 'utf8')) as {
    spdxVersion: string;
    packages: { name: string; versionInfo: string; licenseDeclared: string }[];
  };
  assert.equal(bundleSbom.spdxVersion, 'SPDX-2.3');
  for (const p of bundleSbom.packages)
    assert.ok(p.name && p.versionInfo && p.licenseDeclared, JSON.stringify(p));
  for (const e of artifacts().filter((a) => a.type === 'executable')) {
    const arch = e.arch as Arch;
    const doc = (await inspect(join(DIST, 'sbom', `${ARCHES[arch].executable}.spdx.json`))) as {
      packages: { name: string; version: string }[];
    };
    assert.ok(doc.packages.some((p) => p.name === 'node' && p.version === lock.executables[arch].version));
    const raw = readFileSync(join(DIST, 'sbom', `${ARCHES[arch].executable}.spdx.json`), 'utf8');
    assert.ok(raw.includes(lock.executables[arch].sha256), 'runtime sha256 recorded');
  }
});

test('SHA256SUMS verifies with sha256sum -c', () => {
  const r = spawnSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: DIST, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('edgewan-build inspect via the CLI prints JSON', () => {
  const r = spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'bin/edgewan-build.mjs'), 'inspect', join(DIST, 'bin/edgewan.cjs')],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { format: string }).format, 'bundle');
});
