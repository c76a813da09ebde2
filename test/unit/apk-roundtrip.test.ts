// Every package and index our writer makes is read back by our reader and compared with the
// intent; bad input fails before any bytes exist; random and mutated input never crashes the
// reader (bounded, seeded loops).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { AdbFormatError } from '../../targets/formats/adb.ts';
import { apkFileContents, decodeApk } from '../../targets/formats/adb-decode.ts';
import { buildApkIndex } from '../../targets/formats/adb-index.ts';
import { ApkInputError, buildApkPackage, type ApkPackageInput } from '../../targets/formats/adb-package.ts';
import { loadApkKey } from '../../targets/formats/adb-sign.ts';
import type { FileEntry } from '../../targets/formats/tar.ts';

const key = loadApkKey(
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString(),
);
const other = loadApkKey(
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString(),
);

const big = Buffer.alloc(200_000);
for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
const entries: FileEntry[] = [
  { type: 'file', path: 'usr/bin/edgewan', mode: 0o755, data: big },
  { type: 'file', path: '/etc/config/edgewan', mode: 0o600, data: Buffer.from("config edgewan 'main'\n") },
  { type: 'file', path: 'etc/edgewan/empty', mode: 0o640, data: Buffer.alloc(0) },
  { type: 'symlink', path: 'usr/sbin/edgewan', target: '../bin/edgewan' },
  { type: 'dir', path: 'etc/edgewan/keys', mode: 0o750 },
];
const input: ApkPackageInput = {
  info: {
    name: 'edgewan',
    version: '1.2.0_rc1-r1',
    arch: 'aarch64_cortex-a53',
    description: 'x'.repeat(300),
    license: 'Apache-2.0',
    origin: 'edgewan',
    maintainer: 'Edge <e@example.com>',
    url: 'https://example.com',
    buildTime: 1_700_000_000,
    depends: ['libc', 'ca-bundle>=20240101'],
    provides: ['wanopt=1.2.0-r1'],
  },
  mtime: 1_700_000_000,
  entries,
  scripts: { 'post-install': '#!/bin/sh\ndefault_postinst\n', 'pre-deinstall': '#!/bin/sh\ndefault_prerm\n' },
};

test('installed-size of a package without file bytes is 1, as apk mkpkg writes it', () => {
  const d = decodeApk(
    buildApkPackage({
      info: { name: 'e', version: '1-r0', arch: 'noarch' },
      mtime: 1_700_000_000,
      entries: [
        { type: 'dir', path: 'etc/e', mode: 0o755 },
        { type: 'symlink', path: 'etc/e/l', target: 'x' },
        { type: 'file', path: 'etc/e/z', mode: 0o644, data: Buffer.alloc(0) },
      ],
    }).file,
  );
  assert.equal((d.root.info as Record<string, unknown>)['installed-size'], 1);
});

test('a package reads back as written: metadata, tree, modes, owners, contents, scripts, signature', () => {
  const built = buildApkPackage(input, key);
  const d = decodeApk(built.file, key.publicPem);
  const info = d.root.info as Record<string, unknown>;
  assert.equal(info.name, 'edgewan');
  assert.equal(info.version, '1.2.0_rc1-r1');
  assert.equal(info.arch, 'aarch64_cortex-a53');
  assert.equal(info.description, 'x'.repeat(300));
  assert.equal(info['build-time'], 1_700_000_000);
  // apk mkpkg: the plain sum of the regular files' sizes (200000 + the 22-byte config + the
  // empty file); the symlink and directories count nothing, nothing is rounded to blocks.
  assert.equal(info['installed-size'], 200_000 + 22);
  assert.deepEqual(info.depends, [{ name: 'ca-bundle', version: '20240101', match: 5 }, { name: 'libc' }]);
  assert.deepEqual(info.provides, [{ name: 'wanopt', version: '1.2.0-r1' }]);
  assert.deepEqual(d.root.scripts, input.scripts);
  assert.deepEqual(
    d.signatures.map((s) => [s.keyId, s.verified]),
    [[key.keyId.toString('hex'), true]],
  );
  assert.equal(decodeApk(built.file, other.publicPem).signatures[0].verified, false);
  const byPath = new Map((d.files ?? []).map((f) => [f.path, f]));
  assert.deepEqual([...byPath.keys()].sort(), [
    'etc/config/edgewan',
    'etc/edgewan/empty',
    'usr/bin/edgewan',
    'usr/sbin/edgewan',
  ]);
  assert.equal(byPath.get('usr/bin/edgewan')?.mode, 0o755);
  assert.equal(byPath.get('etc/config/edgewan')?.mode, 0o600);
  assert.equal(byPath.get('usr/sbin/edgewan')?.target, '../bin/edgewan');
  assert.equal(byPath.get('usr/sbin/edgewan')?.type, 'symlink');
  assert.ok(
    [...byPath.values()].every((f) => f.user === 'root' && f.group === 'root' && f.mtime === 1_700_000_000),
  );
  assert.equal(d.dirs?.find((x) => x.path === 'etc/edgewan/keys')?.mode, 0o750);
  assert.deepEqual(
    d.dirs?.map((x) => x.path),
    ['', 'etc', 'etc/config', 'etc/edgewan', 'etc/edgewan/keys', 'usr', 'usr/bin', 'usr/sbin'],
  );
  const contents = apkFileContents(built.file);
  assert.deepEqual(contents.get('usr/bin/edgewan'), big);
  assert.equal(contents.get('etc/edgewan/empty')?.length, 0);
  assert.equal(d.dataBlocks, 2);
});

test('an index lists each package with its file size and SHA-256 of its ADB block, sorted by name', () => {
  const a = buildApkPackage(input, key);
  const b = buildApkPackage({ ...input, info: { ...input.info, name: 'aaa-extra', depends: [] } }, key);
  const ndx = buildApkIndex(
    { description: 'edgewan test feed', packages: [{ file: a.file }, { file: b.file }] },
    key,
  );
  const d = decodeApk(ndx.file, key.publicPem);
  assert.equal(d.schema, 'indx');
  assert.equal(d.root.description, 'edgewan test feed');
  const pkgs = d.root.packages as Record<string, unknown>[];
  assert.deepEqual(
    pkgs.map((p) => p.name),
    ['aaa-extra', 'edgewan'],
  );
  assert.equal(pkgs[1]['file-size'], a.file.length);
  assert.equal(pkgs[1].hashes, createHash('sha256').update(a.adb).digest('hex'));
  assert.equal(pkgs[1].hashes, decodeApk(a.file).adbSha256);
  assert.equal(pkgs[1].arch, 'aarch64_cortex-a53');
  assert.deepEqual(pkgs[1].depends, [{ name: 'ca-bundle', version: '20240101', match: 5 }, { name: 'libc' }]);
  assert.equal(d.signatures[0].verified, true);
  // Like `apk mkndx`, the byte layout follows the argument order (the build passes a sorted
  // list); the decoded index does not depend on it.
  assert.deepEqual(
    buildApkIndex({ description: 'edgewan test feed', packages: [{ file: a.file }, { file: b.file }] }, key)
      .file,
    ndx.file,
  );
  const swapped = buildApkIndex(
    { description: 'edgewan test feed', packages: [{ file: b.file }, { file: a.file }] },
    key,
  );
  assert.deepEqual(decodeApk(swapped.file).root, d.root);
});

test('bad input is refused before anything is produced', () => {
  const bad =
    (patch: Partial<ApkPackageInput['info']>, extra: Partial<ApkPackageInput> = {}) =>
    () =>
      buildApkPackage({ ...input, ...extra, info: { ...input.info, ...patch } }, key);
  assert.throws(
    bad({ version: '1.2.0-nightly.3' }),
    (e: Error) => e instanceof ApkInputError && /not an apk version/.test(e.message),
  );
  assert.throws(bad({ version: '1.2.0-r1-r2' }), ApkInputError);
  assert.throws(bad({ name: '-edgewan' }), /package name/);
  assert.throws(bad({ arch: '' }), /arch/);
  assert.throws(bad({ depends: ['libc>=not a version'] }), ApkInputError);
  assert.throws(
    bad(
      {},
      {
        entries: [...entries, { type: 'file', path: 'usr/bin/edgewan', mode: 0o755, data: Buffer.alloc(1) }],
      },
    ),
    /duplicate path/,
  );
  assert.throws(
    bad({}, { entries: [{ type: 'file', path: 'x', mode: 0o644, data: Buffer.alloc(1), uid: 1000 }] }),
    /owner id 1000/,
  );
});

/** Small deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mustNotCrash(buf: Buffer): void {
  try {
    decodeApk(buf, key.publicPem);
  } catch (e) {
    if (!(e instanceof AdbFormatError))
      throw new Error(
        `reader crashed with ${(e as Error).name}: ${(e as Error).message} on ${buf.subarray(0, 64).toString('hex')}`,
        { cause: e },
      );
  }
}

test('random and mutated inputs never crash the reader (4000 bounded cases)', () => {
  const rand = rng(0xed9e);
  const small = buildApkPackage(
    {
      ...input,
      info: { ...input.info, description: 'd' },
      entries: entries.map((e) => (e.type === 'file' ? { ...e, data: e.data.subarray(0, 100) } : e)),
    },
    key,
  );
  const plain = inflateRawSync(small.file.subarray(4)); // an uncompressed "ADB." file is valid too
  const ndxPlain = inflateRawSync(buildApkIndex({ packages: [{ file: small.file }] }, key).file.subarray(4));
  let ok = 0;
  for (let i = 0; i < 4000; i++) {
    const r = rand();
    let buf: Buffer;
    if (r < 0.15) {
      buf = Buffer.alloc(Math.floor(rand() * 200));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rand() * 256);
      if (rand() < 0.5) Buffer.from('ADB.pckg').copy(buf);
    } else {
      const base = Buffer.from(r < 0.6 ? plain : ndxPlain);
      const flips = 1 + Math.floor(rand() * 4);
      for (let j = 0; j < flips; j++)
        base[8 + Math.floor(rand() * (base.length - 8))] = Math.floor(rand() * 256);
      buf = rand() < 0.2 ? base.subarray(0, Math.floor(rand() * base.length)) : base;
    }
    if (rand() < 0.1) buf = Buffer.concat([Buffer.from('ADBd'), buf]); // garbage "compressed" data
    mustNotCrash(buf);
    ok++;
  }
  assert.equal(ok, 4000);
  // A flipped byte in the ADB block must break the signature (or the structure).
  const tampered = Buffer.from(plain);
  tampered[20] ^= 1;
  try {
    assert.equal(decodeApk(tampered, key.publicPem).signatures[0].verified, false);
  } catch (e) {
    assert.ok(e instanceof AdbFormatError);
  }
});

test('split compression: one deflate stream, DATA part shared between arch variants', () => {
  const cache = new Map<string, Buffer>();
  const a = buildApkPackage(input, key, { dataCache: cache });
  const b = buildApkPackage({ ...input, info: { ...input.info, arch: 'aarch64_generic' } }, key, {
    dataCache: cache,
  });
  assert.equal(cache.size, 1);
  const whole = buildApkPackage(input, key);
  assert.deepEqual(inflateRawSync(a.file.subarray(4)), inflateRawSync(whole.file.subarray(4)));
  const shared = [...cache.values()][0];
  assert.deepEqual(a.file.subarray(a.file.length - shared.length), shared);
  assert.deepEqual(b.file.subarray(b.file.length - shared.length), shared);
  assert.equal(
    (decodeApk(b.file, key.publicPem).root.info as Record<string, unknown>).arch,
    'aarch64_generic',
  );
  assert.deepEqual(apkFileContents(b.file).get('usr/bin/edgewan'), big);
});
