// Reproducibility (docs/contract.md, "Tests"): build the bundle and the x64 executable twice,
// into two fresh output dirs with two EMPTY build caches (only the hash-checked runtime
// downloads are shared), under different TZ and umask, and compare every byte and mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { sha256File } from '../../scripts/fsutil.ts';
import { REPO_ROOT } from '../../scripts/paths.ts';

function listAll(dir: string): string[] {
  const out: string[] = [];
  const rec = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) rec(p);
      else out.push(relative(dir, p));
    }
  };
  rec(dir);
  return out;
}

test('two clean builds (bundle + x64) are byte-identical across TZ and umask', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'ewA-repro-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  // Read once, so a commit landing between the two builds cannot make them differ.
  const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  }).trim();
  const epoch = execFileSync('git', ['log', '-1', '--format=%ct'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  }).trim();
  const runs = [
    { tz: 'UTC', umask: '022' },
    { tz: 'Pacific/Chatham', umask: '077' },
  ];
  const outs: string[] = [];
  for (const [i, r] of runs.entries()) {
    const out = join(work, `dist${i}`);
    const res = spawnSync(
      'sh',
      [
        '-c',
        `umask ${r.umask}; exec "$0" "$@"`,
        process.execPath,
        join(REPO_ROOT, 'bin/edgewan-build.mjs'),
        'build',
        '--arch',
        'x64',
        '--target',
        'none',
        '--out',
        out,
        '--cache-dir',
        join(work, `cache${i}`),
      ],
      {
        encoding: 'utf8',
        timeout: 600_000,
        env: { ...process.env, TZ: r.tz, EDGEWAN_COMMIT: commit, SOURCE_DATE_EPOCH: epoch },
      },
    );
    assert.equal(res.status, 0, `build ${i} failed:\n${res.stderr}`);
    outs.push(out);
  }
  const [a, b] = outs.map(listAll);
  assert.deepEqual(a, b, 'same file list');
  for (const f of [
    'bin/edgewan.cjs',
    'bin/edgewan.cjs.map',
    'bin/edgewan.cjs.LICENSES.txt',
    'bin/edgewan-linux-x64',
    'sbom/edgewan.cjs.spdx.json',
    'sbom/edgewan-linux-x64.spdx.json',
    'SHA256SUMS',
    'artifacts.json',
  ]) {
    assert.ok(a.includes(f), `${f} was built`);
  }
  for (const f of a) {
    const [sa, sb] = outs.map((o) => statSync(join(o, f)));
    assert.equal((sa.mode & 0o777).toString(8), (sb.mode & 0o777).toString(8), `${f}: same mode`);
    assert.equal(await sha256File(join(outs[0], f)), await sha256File(join(outs[1], f)), `${f}: same bytes`);
  }
  assert.equal(
    statSync(join(outs[1], 'bin/edgewan-linux-x64')).mode & 0o777,
    0o755,
    'executable mode is explicit, not from umask',
  );
  const list = JSON.parse(readFileSync(join(outs[0], 'artifacts.json'), 'utf8')) as {
    path: string;
    sha256: string;
  }[];
  const exe = list.find((x) => x.path === 'bin/edgewan-linux-x64');
  assert.equal(exe?.sha256, await sha256File(join(outs[0], 'bin/edgewan-linux-x64')));
});
