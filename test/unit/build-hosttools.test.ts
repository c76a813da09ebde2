// Host tools: with qemu and the cross tools missing from PATH (and apt-get not allowed) the
// build stops before writing anything, naming what is missing and the exact apt-get command.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureHostTools, needsFor } from '../../scripts/hosttools.ts';
import { REPO_ROOT } from '../../scripts/paths.ts';

const temps: string[] = [];
const tmp = (prefix: string) => { const d = mkdtempSync(prefix); temps.push(d); return d; };
after(() => { for (const d of temps) rmSync(d, { recursive: true, force: true }); });

test('each arm arch needs qemu, cross strip and cross libraries', () => {
  const arm = needsFor('armv7').map((n) => n.pkg);
  for (const p of ['qemu-user-static', 'binutils-arm-linux-gnueabihf', 'libc6-armhf-cross', 'libatomic1-armhf-cross']) assert.ok(arm.includes(p), p);
  assert.ok(needsFor('arm64').some((n) => n.what === 'qemu-aarch64-static'));
});

test('missing tools: error lists them and the apt-get command', () => {
  assert.throws(() => ensureHostTools(['arm64'], { env: { PATH: '/nonexistent' }, allowApt: false, log: () => {} }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'EDGEWAN_ERR_BUILD_HOST_TOOLS');
    assert.match(e.message, /qemu-aarch64-static/);
    assert.match(e.message, /apt-get install -y --no-install-recommends .*qemu-user-static/);
    return true;
  });
});

test('build without qemu on PATH: exit 1, clear error, no artifact', () => {
  const work = tmp(join(tmpdir(), 'ewA-noqemu-'));
  const bin = join(work, 'bin');
  spawnSync('mkdir', ['-p', bin]);
  for (const t of ['git', 'npm', 'tar']) {
    const p = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
    if (p) symlinkSync(p, join(bin, t));
  }
  const out = join(work, 'dist');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/edgewan-build.mjs'), 'build', '--arch', 'arm64', '--target', 'none', '--out', out],
    { encoding: 'utf8', timeout: 120_000, env: { ...process.env, PATH: bin, EDGEWAN_NO_APT: '1' } });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /EDGEWAN_ERR_BUILD_HOST_TOOLS: missing host tools for arm64: .*qemu-aarch64-static/);
  assert.match(r.stderr, /apt-get install -y --no-install-recommends/);
  assert.equal(existsSync(out), false, 'nothing written');
});
