// Reproducibility of the Debian-family packages and the signed apt repository (docs/contract.md,
// "Tests"): the debian and raspbian Targets run twice from the same inputs — the x64
// executable and the bundle the build already put in dist/bin (no executable is rebuilt), the
// manifest's PackageInfo, one SOURCE_DATE_EPOCH and one OpenPGP key — into two fresh output
// dirs with two EMPTY caches (so xz really runs twice), in child processes under TZ=UTC /
// umask 022 and TZ=Pacific/Chatham (+12:45/+13:45) / umask 077. Every file of both
// repositories (.debs, Packages, Packages.gz, Release, InRelease, Release.gpg, keyring,
// sources) must have the same bytes and mode, and the artifacts.json entries must agree.
// Time: xz -6 -T2 of the whole 109 MB x64 executable costs 78 s of CPU (measured), twice
// that for two builds — over this test's 1.5-minute CI share on 2 cores. So the amd64
// package carries the executable's first 40 MiB (two 24 MiB xz blocks: the multi-block,
// multi-threaded encoder path is still exercised; our writers do not look at the payload).
// EDGEWAN_REPRO_FULL=1 packages the whole executable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '../../scripts/fsutil.ts';
import { REPO_ROOT } from '../../scripts/paths.ts';
import { loadManifest, packageInfo } from '../../scripts/manifest.ts';
import { generateTestKey } from '../../targets/formats/apt/sign.ts';
import { distDir } from '../helpers/oci.ts';

/** Every file under dir, relative, sorted. */
const filesUnder = (dir: string) =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();

test(
  'debian + raspbian packages and the apt repository are byte-identical across TZ and umask',
  { timeout: 10 * 60_000 },
  async (t) => {
    const bin = join(distDir(), 'bin');
    const exe = join(bin, 'edgewan-linux-x64');
    for (const f of [exe, join(bin, 'edgewan.cjs')])
      assert.ok(existsSync(f), `${f} missing: run the build first (npm run build)`);
    const work = mkdtempSync(join(tmpdir(), 'ewE-debrepro-'));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    const mtime = Number(
      execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim(),
    );
    // a fixed key date: the signature date is SOURCE_DATE_EPOCH (or the key's, when younger)
    writeFileSync(join(work, 'key.asc'), await generateTestKey('edgewan', new Date('2020-01-01T00:00:00Z')));
    const payload = join(work, 'edgewan-linux-x64');
    const whole = readFileSync(exe);
    writeFileSync(payload, process.env.EDGEWAN_REPRO_FULL === '1' ? whole : whole.subarray(0, 40 << 20), {
      mode: 0o755,
    });
    const runs = [
      { tz: 'UTC', umask: '022' },
      { tz: 'Pacific/Chatham', umask: '077' },
    ];
    const outs: string[] = [];
    const arts: unknown[] = [];
    for (const [i, r] of runs.entries()) {
      const args = {
        info: packageInfo(loadManifest(REPO_ROOT, undefined)),
        mtime,
        outDir: join(work, `dist${i}`),
        cacheDir: join(work, `cache${i}`),
        exeX64: payload,
        bundle: join(bin, 'edgewan.cjs'),
        licenses: join(bin, 'edgewan.cjs.LICENSES.txt'),
        keyFile: join(work, 'key.asc'),
      };
      const started = Date.now();
      const res = spawnSync(
        'sh',
        [
          '-c',
          `umask ${r.umask}; exec "$0" "$@"`,
          process.execPath,
          '--import',
          'tsx',
          join(REPO_ROOT, 'test/helpers/deb-repro-child.ts'),
          JSON.stringify(args),
        ],
        {
          cwd: REPO_ROOT,
          encoding: 'utf8',
          timeout: 240_000,
          env: { ...process.env, TZ: r.tz },
        },
      );
      assert.equal(res.status, 0, `build ${i} (TZ=${r.tz}, umask ${r.umask}) failed:\n${res.stderr}`);
      t.diagnostic(
        `build ${i} (TZ=${r.tz}, umask ${r.umask}): ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      outs.push(args.outDir);
      arts.push(JSON.parse(res.stdout));
      // the cache of this run must have been written, so the second run did not borrow it
      assert.ok(existsSync(args.cacheDir), `build ${i} used its own cache`);
    }
    assert.deepEqual(
      arts[0],
      arts[1],
      'artifacts.json entries (sha256 and size of every .deb and InRelease)',
    );
    const [a, b] = outs.map(filesUnder);
    assert.deepEqual(a, b, 'same file list');
    for (const f of ['apt/pool/bookworm/edgewan_', 'apt/pool/rpi/edgewan_']) {
      assert.ok(
        a.some((x) => x.startsWith(f) && x.endsWith('.deb')),
        `${f}*.deb was built`,
      );
    }
    for (const suite of ['bookworm', 'rpi']) {
      for (const f of ['Release', 'InRelease', 'Release.gpg'])
        assert.ok(a.includes(`apt/dists/${suite}/${f}`), `${suite}/${f} written`);
      assert.ok(
        a.some((x) => x.startsWith(`apt/dists/${suite}/main/binary-`) && x.endsWith('/Packages.gz')),
        `${suite} Packages.gz`,
      );
    }
    for (const f of a) {
      const [sa, sb] = outs.map((o) => statSync(join(o, f)));
      assert.equal((sa.mode & 0o777).toString(8), (sb.mode & 0o777).toString(8), `${f}: same mode`);
      assert.equal(
        await sha256File(join(outs[0], f)),
        await sha256File(join(outs[1], f)),
        `${f}: same bytes`,
      );
    }
    // the umask must not reach published files: apt's file: and http: readers need them readable
    for (const f of a)
      assert.equal(statSync(join(outs[1], f)).mode & 0o044, 0o044, `${f} world-readable under umask 077`);
    const release = readFileSync(join(outs[1], 'apt/dists/bookworm/Release'), 'utf8');
    assert.match(
      release,
      new RegExp(`^Date: ${new Date(mtime * 1000).toUTCString().replace('GMT', 'UTC')}$`, 'm'),
      'Release date in UTC',
    );
  },
);
