// scripts/glibc.ts against the real Debian mirror: each arch's private set holds exactly the
// loader and the libraries docs/platform-notes.md §1 lists, from the pinned packages; the loader runs (foreign
// arches under qemu with an explicit CPU); a pin the mirror no longer has, or a package whose
// bytes differ from the pinned sha256, fails with a clear error and leaves the cache intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ARCHES, type Arch } from '../../targets/arch.ts';
import { defaultCacheDir, packagesFor, prepareGlibc, readLock, type GlibcLock } from '../../scripts/glibc.ts';
import { needTool } from '../helpers/tools.ts';

const CPU: Record<Arch, string[]> = { x64: [], arm64: ['-cpu', 'cortex-a53'], armv7: ['-cpu', 'cortex-a7'] };

for (const arch of ['x64', 'arm64', 'armv7'] as Arch[]) {
  test(`${arch}: private glibc set = loader + the libraries docs/platform-notes.md §1 lists, from the pinned packages; the loader runs`, async (t) => {
    if (!needTool(t, 'apt-get', 'apt') || !needTool(t, 'dpkg-deb', 'dpkg')) return;
    if (arch !== 'x64' && !needTool(t, ARCHES[arch].qemu, 'qemu-user-static')) return;
    const set = await prepareGlibc(arch, defaultCacheDir());
    const want = [
      ARCHES[arch].loader,
      'libc.so.6',
      'libdl.so.2',
      'libgcc_s.so.1',
      'libm.so.6',
      'libpthread.so.0',
      'libstdc++.so.6',
      ...(arch === 'armv7' ? ['libatomic.so.1'] : []),
    ].sort();
    assert.deepEqual(readdirSync(set.dir).sort(), want);
    assert.deepEqual(set.files.map((f) => f.path).sort(), want);
    const lock = readLock();
    assert.deepEqual(
      set.packages.map((p) => `${p.name}=${p.version}`),
      lock[arch].map((p) => `${p.name}=${p.version}`),
    );
    assert.deepEqual(
      set.packages.map((p) => p.name),
      packagesFor(arch),
    );
    assert.ok(set.packages.every((p) => p.license && /^[0-9a-f]{64}$/.test(p.sha256)));
    assert.ok(
      set.notices.some((n) => n.package === 'libc6' && n.data.length > 1000),
      'libc6 copyright kept for licence notices',
    );
    const loader = join(set.dir, ARCHES[arch].loader);
    const argv =
      arch === 'x64' ? [loader, '--version'] : [ARCHES[arch].qemu, ...CPU[arch], loader, '--version'];
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const libc6 = lock[arch].find((p) => p.name === 'libc6')!;
    assert.ok(r.stdout.includes(libc6.version), r.stdout.split('\n')[0]);
  });
}

test('a pin the mirror no longer has fails clearly; a changed package is refused', async (t) => {
  if (!needTool(t, 'apt-get', 'apt')) return;
  const real = readLock();
  const gone: GlibcLock = {
    ...real,
    x64: real.x64.map((p) => (p.name === 'libgcc-s1' ? { ...p, version: '12.2.0-0+gone1' } : p)),
  };
  await assert.rejects(
    prepareGlibc('x64', defaultCacheDir(), { lock: gone }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'EDGEWAN_ERR_GLIBC_UNAVAILABLE');
      assert.match(e.message, /no longer has libgcc-s1:amd64 12\.2\.0-0\+gone1/);
      assert.match(e.message, /--update-lock/);
      return true;
    },
  );
  const changed: GlibcLock = {
    ...real,
    x64: real.x64.map((p) => (p.name === 'libgcc-s1' ? { ...p, sha256: '0'.repeat(64) } : p)),
  };
  await assert.rejects(
    prepareGlibc('x64', defaultCacheDir(), { lock: changed }),
    /EDGEWAN_ERR_GLIBC_CHECKSUM|refusing it/,
  );
  // The good set is still there and still matches the real lock.
  const again = await prepareGlibc('x64', defaultCacheDir());
  assert.ok(again.files.some((f) => f.path === 'libgcc_s.so.1'));
});
