// Every .deb the build wrote (dist/artifacts.json) checked with Debian's own tools:
// lintian (errors and warnings fail; every override is shipped and justified in the package),
// dpkg-deb -f/-c agree field by field and entry by entry with `edgewan-build inspect`
// (our reader, through the dispatcher), and the shipped systemd unit passes
// `systemd-analyze verify` with nothing on stderr and `security --offline=yes` ≤ 2.0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needTool } from '../helpers/tools.ts';
import { inspect } from '../../scripts/inspect.ts';
import { readDeb, type DebInspection } from '../../targets/formats/deb-inspect.ts';
import type { Artifact } from '../../targets/target.ts';

// EDGEWAN_TEST_DIST lets a developer check another build's output directory.
const DIST = process.env.EDGEWAN_TEST_DIST ?? join(import.meta.dirname, '..', '..', 'dist');

function debs(): Artifact[] {
  const list = JSON.parse(readFileSync(join(DIST, 'artifacts.json'), 'utf8')) as Artifact[];
  const out = list.filter((a) => a.type === 'deb');
  assert.ok(
    out.length > 0,
    'no deb artifacts in dist/artifacts.json: the debian/raspbian targets were skipped (see the build log)',
  );
  return out;
}

/** One artifact per distinct file: the arm64 package is the same bytes in both suites. */
function uniqueDebs(): Artifact[] {
  const seen = new Set<string>();
  return debs().filter((a) => !seen.has(a.sha256) && seen.add(a.sha256));
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, env });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

test('every .deb: artifacts.json hash, platform and our reader agree with dpkg-deb -f and -c', async (t) => {
  if (!needTool(t, 'dpkg-deb', 'dpkg')) return;
  const list = debs();
  const platforms = list.map((a) => `${a.target}/${a.platform}`).sort();
  // debian: amd64/arm64 where built; raspbian: the `all` bundle package always
  assert.ok(platforms.includes('raspbian/all'), `raspbian/all missing from ${platforms.join(', ')}`);
  for (const a of list) {
    const file = join(DIST, a.path);
    assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), a.sha256, a.path);
  }
  for (const a of uniqueDebs()) {
    const file = join(DIST, a.path);
    const d = (await inspect(file)) as DebInspection;
    assert.equal(d.format, 'deb');
    assert.equal(d.control.Architecture, a.platform, a.path);
    const f = run('dpkg-deb', ['-f', file]);
    assert.equal(f.status, 0, f.stderr);
    const theirs = Object.fromEntries(
      f.stdout
        .trimEnd()
        .split(/\n(?=\S)/)
        .map((l) => {
          const i = l.indexOf(':');
          return [
            l.slice(0, i),
            l
              .slice(i + 1)
              .replace(/^ /, '')
              .replace(/\n /g, '\n'),
          ];
        }),
    );
    assert.deepEqual(d.control, theirs, `${a.path}: control fields`);
    const c = run('dpkg-deb', ['-c', file]);
    assert.equal(c.status, 0, c.stderr);
    const listing = c.stdout
      .trimEnd()
      .split('\n')
      .map((l) => {
        const m = /^(\S+) (\S+)\/(\S+)\s+(\d+) \S+ \S+ \.\/(.*?)(?: -> (.*))?$/.exec(l);
        assert.ok(m, `unparsed dpkg-deb -c line: ${l}`);
        return {
          type: m[1][0],
          mode: parseInt(modeBits(m[1]), 8),
          owner: `${m[2]}/${m[3]}`,
          size: Number(m[4]),
          path: m[5].replace(/\/$/, ''),
          link: m[6],
        };
      });
    const ours = d.data.map((e) => ({
      type: e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-',
      mode: e.type === 'symlink' ? 0o777 : e.mode,
      owner: 'root/root',
      size: e.size,
      path: e.path,
      link: e.linkname,
    }));
    assert.deepEqual(listing, ours, `${a.path}: data listing`);
  }
});

/** "-rwxr-xr-x" → "755" */
function modeBits(s: string): string {
  const tri = (x: string) => String((x[0] !== '-' ? 4 : 0) + (x[1] !== '-' ? 2 : 0) + (x[2] !== '-' ? 1 : 0));
  return tri(s.slice(1, 4)) + tri(s.slice(4, 7)) + tri(s.slice(7, 10));
}

test('lintian --pedantic: no errors or warnings on any .deb; every override is justified', async (t) => {
  if (!needTool(t, 'lintian')) return;
  const files = uniqueDebs().map((a) => join(DIST, a.path));
  // (no --show-overrides here: lintian 2.116 then counts overridden tags for --fail-on)
  const r = run('lintian', ['--no-cfg', '-I', '--pedantic', '--fail-on', 'error,warning', ...files]);
  const bad = r.stdout.split('\n').filter((l) => /^[EW]: /.test(l));
  assert.deepEqual(bad, [], r.stdout);
  assert.equal(r.status, 0, `lintian exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  // every override line in the shipped overrides file has its reason in a comment above it
  for (const f of files) {
    const { dataFiles } = await readDeb(f, (p) => p.startsWith('usr/share/lintian/overrides/'));
    const o = dataFiles.find((e) => e.path.startsWith('usr/share/lintian/overrides/') && e.data);
    assert.ok(o?.data, `${f}: lintian overrides shipped`);
    const lines = o.data.toString().split('\n');
    lines.forEach((l, i) => {
      if (l && !l.startsWith('#'))
        assert.ok(i > 0 && lines[i - 1].startsWith('#'), `${f}: override without a comment: ${l}`);
    });
  }
});

test('systemd-analyze: the unit of every .deb verifies cleanly and exposure ≤ 2.0', async (t) => {
  if (!needTool(t, 'systemd-analyze', 'systemd') || !needTool(t, 'dpkg-deb', 'dpkg')) return;
  // Packages with the same unit (by md5 from our reader) are checked once, through the
  // smallest of them: unpacking a 100 MB executable adds nothing to the unit check.
  const byUnit = new Map<string, Artifact>();
  for (const a of uniqueDebs()) {
    const d = (await inspect(join(DIST, a.path))) as DebInspection;
    const unit = d.data.find((e) => /^lib\/systemd\/system\/[^/]+\.service$/.test(e.path));
    assert.ok(unit?.md5, `${a.path}: no systemd unit`);
    const prev = byUnit.get(unit.md5);
    if (!prev || prev.size > a.size) byUnit.set(unit.md5, a);
  }
  for (const a of byUnit.values()) {
    const root = mkdtempSync(join(tmpdir(), 'ewE-unit-'));
    try {
      const x = run('dpkg-deb', ['-x', join(DIST, a.path), root]);
      assert.equal(x.status, 0, x.stderr);
      const unitDir = join(root, 'lib/systemd/system');
      const units = readdirSync(unitDir).filter((f) => f.endsWith('.service'));
      assert.equal(units.length, 1, `${a.path}: one service unit`);
      // The extracted package is the root systemd-analyze checks against: give it the
      // host's standard units (targets the unit refers to) and kill(1) for ExecReload.
      for (const f of readdirSync('/lib/systemd/system')) {
        if (!existsSync(join(unitDir, f))) spawnSync('cp', ['-a', join('/lib/systemd/system', f), unitDir]);
      }
      mkdirSync(join(root, 'bin'), { recursive: true });
      copyFileSync('/bin/kill', join(root, 'bin/kill'));
      const env = { ...process.env, MANPATH: join(root, 'usr/share/man'), SYSTEMD_LOG_COLOR: '0' };
      const v = run('systemd-analyze', ['verify', `--root=${root}`, `/lib/systemd/system/${units[0]}`], env);
      assert.equal(v.stderr, '', `${a.path}: systemd-analyze verify printed:\n${v.stderr}`);
      assert.equal(v.status, 0);
      const s = run(
        'systemd-analyze',
        ['security', '--offline=yes', `--root=${root}`, '--no-pager', units[0]],
        env,
      );
      const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(s.stdout + s.stderr);
      assert.ok(m, `no exposure level in:\n${s.stdout}${s.stderr}`);
      t.diagnostic(`${a.path}: exposure ${m[1]}`);
      assert.ok(Number(m[1]) <= 2.0, `${a.path}: exposure ${m[1]} > 2.0\n${s.stdout}`);
      // Interception (docs/intercept.md): the shipped drop-in, linked in as the docs say,
      // verifies too and adds CAP_NET_ADMIN to the bounding set and nothing else.
      const name = units[0].replace(/\.service$/, '');
      const dropIn = `/usr/lib/${name}/systemd/intercept.conf`;
      assert.ok(existsSync(join(root, dropIn)), `${a.path}: ${dropIn} shipped`);
      mkdirSync(join(root, `etc/systemd/system/${units[0]}.d`), { recursive: true });
      symlinkSync(dropIn, join(root, `etc/systemd/system/${units[0]}.d/intercept.conf`));
      const vi = run('systemd-analyze', ['verify', `--root=${root}`, `/lib/systemd/system/${units[0]}`], env);
      assert.equal(
        vi.stderr,
        '',
        `${a.path}: with the drop-in, systemd-analyze verify printed:\n${vi.stderr}`,
      );
      assert.equal(vi.status, 0);
      const si = run(
        'systemd-analyze',
        ['security', '--offline=yes', `--root=${root}`, '--no-pager', units[0]],
        env,
      );
      const mi = /Overall exposure level for \S+: (\d+\.\d+)/.exec(si.stdout + si.stderr);
      assert.ok(mi, `no exposure level with the drop-in:\n${si.stdout}${si.stderr}`);
      t.diagnostic(`${a.path}: exposure with the interception drop-in ${mi[1]}`);
      assert.match(
        si.stdout,
        /CapabilityBoundingSet=~CAP_NET_ADMIN/,
        'the drop-in takes effect: CAP_NET_ADMIN in the bounding set',
      );
      assert.ok(Number(mi[1]) <= 2.0, `${a.path}: exposure with the drop-in ${mi[1]} > 2.0`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
});
