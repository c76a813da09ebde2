// The apt repository the build wrote, used the way a device uses it, in a real Debian
// bookworm arm64 root (mmdebstrap, cached by test/helpers/rootfs.ts) under qemu-user:
// the repo is added with its key, `apt-get update` checks the signature (a tampered
// InRelease is refused), a tampered package is refused, `apt-get install` works, the
// program runs as the service user on the shipped config, an upgrade keeps a modified
// conffile and the state, purge removes state, keys and config. The newer version is
// built here from the installed package's own executable with the debian Target, signed
// with a throw-away key (the build's key may be the user's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needRoot, needTool } from '../helpers/tools.ts';
import { ARM64_ROOT, copyRootfs, type RootCopy } from '../helpers/rootfs.ts';
import { readDeb } from '../../targets/formats/deb-inspect.ts';
import { buildSuite } from '../../targets/formats/apt/target-kit.ts';
import { generateTestKey } from '../../targets/formats/apt/sign.ts';
import { SUITE as DEBIAN_SUITE } from '../../targets/debian/index.ts';
import { mapVersion } from '../../targets/version.ts';
import type { Artifact, PackageInfo } from '../../targets/target.ts';
import { loadManifest, packageInfo } from '../../scripts/manifest.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DIST = process.env.EDGEWAN_TEST_DIST ?? join(ROOT, 'dist');

/** deb version → the semver the program prints: 1.2.0~rc.1-1 → 1.2.0-rc.1 */
const semverOf = (deb: string) => deb.replace(/-[^-]+$/, '').replace('~', '-');

function must(r: ReturnType<RootCopy['chroot']>, what: string): string {
  assert.equal(
    r.status,
    0,
    `${what} failed (exit ${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`,
  );
  return r.stdout;
}

test(
  'apt on Debian bookworm arm64: signed repo, install, run, upgrade, purge, tampering refused',
  { timeout: 30 * 60_000 },
  async (t) => {
    if (!needRoot(t) || !needTool(t, 'mmdebstrap') || !needTool(t, 'qemu-aarch64-static', 'qemu-user-static'))
      return;
    const arts = JSON.parse(readFileSync(join(DIST, 'artifacts.json'), 'utf8')) as Artifact[];
    const deb = arts.find((a) => a.type === 'deb' && a.target === 'debian' && a.platform === 'arm64');
    assert.ok(deb, 'no debian arm64 .deb in dist/artifacts.json (build with --arch arm64 --target debian)');
    const { inspection: v1, dataFiles } = await readDeb(join(DIST, deb.path), (p) =>
      p.startsWith('usr/bin/'),
    );
    const name = v1.control.Package;
    const keyring = `/usr/share/keyrings/${name}-archive-keyring.gpg`;
    const root = copyRootfs(ARM64_ROOT);
    const work = mkdtempSync(join(tmpdir(), 'ewE-apt-'));
    const R = (p: string) => join(root.dir, p);
    const apt = (...args: string[]) => root.chroot(['apt-get', '-q', '-y', ...args]);
    const useRepo = (from: string, key: Buffer | string) => {
      rmSync(R('srv/repo'), { recursive: true, force: true });
      cpSync(from, R('srv/repo'), { recursive: true });
      writeFileSync(R(keyring), key);
    };
    try {
      // Only our repository: every dependency is already in the cached root.
      writeFileSync(R('etc/apt/sources.list'), `deb [signed-by=${keyring}] file:/srv/repo bookworm main\n`);
      mkdirSync(R('srv'), { recursive: true });
      useRepo(join(DIST, 'apt'), readFileSync(join(DIST, 'apt', `${name}-archive-keyring.gpg`)));

      await t.test('a tampered InRelease is refused by apt-get update', () => {
        const f = R('srv/repo/dists/bookworm/InRelease');
        const good = readFileSync(f, 'utf8');
        writeFileSync(f, good.replace(/^Date: .*$/m, 'Date: Mon, 01 Jan 2035 00:00:00 UTC'));
        const r = apt('update');
        assert.notEqual(r.status, 0, 'apt-get update accepted a modified InRelease');
        assert.match(r.stdout + r.stderr, /BADSIG|not signed|signature/i);
        writeFileSync(f, good);
        rmSync(R('var/lib/apt/lists'), { recursive: true, force: true });
        mkdirSync(R('var/lib/apt/lists/partial'), { recursive: true });
      });

      await t.test('apt-get update verifies the signature', () => {
        const out = must(apt('update'), 'apt-get update');
        assert.doesNotMatch(out, /NO_PUBKEY|BADSIG|not signed/);
        assert.ok(existsSync(R('var/lib/apt/lists')), 'lists written');
      });

      await t.test('a tampered package is refused', () => {
        const f = R(`srv/repo/${deb.path.replace(/^apt\//, '')}`);
        const good = readFileSync(f);
        const bad = Buffer.from(good);
        bad[bad.length >> 1] ^= 0xff;
        writeFileSync(f, bad);
        const r = apt('install', name);
        assert.notEqual(r.status, 0, 'apt-get installed a package whose bytes do not match the signed index');
        assert.match(r.stdout + r.stderr, /Hash Sum mismatch|hashes do not match|unexpected size/i);
        assert.notEqual(root.chroot(['dpkg-query', '-W', name]).status, 0, 'nothing installed');
        writeFileSync(f, good);
        must(apt('clean'), 'apt-get clean');
      });

      await t.test(
        'apt-get install: user, dirs, enabled unit, runs on the shipped config as the service user',
        () => {
          must(apt('install', name), 'apt-get install');
          assert.match(
            must(root.chroot(['getent', 'passwd', name]), 'getent'),
            new RegExp(`^${name}:x:\\d+:\\d+::/var/lib/${name}:/usr/sbin/nologin`),
          );
          const keys = statSync(R(`etc/${name}/keys`));
          assert.equal(keys.mode & 0o7777, 0o750);
          assert.equal(keys.uid, 0);
          assert.ok(
            lstatSync(R(`etc/systemd/system/multi-user.target.wants/${name}.service`)).isSymbolicLink(),
            'unit enabled',
          );
          const version = must(root.chroot([`/usr/bin/${name}`, '--version']), '--version');
          assert.ok(version.includes(semverOf(v1.control.Version)), `--version printed ${version}`);
          must(
            root.chroot([
              'chroot',
              `--userspec=${name}:${name}`,
              '/',
              `/usr/bin/${name}`,
              'check-config',
              `/etc/${name}/${name}.json`,
            ]),
            'check-config as the service user',
          );
        },
      );

      await t.test('an upgrade keeps the modified conffile and the state; purge removes them', async () => {
        const conf = R(`etc/${name}/${name}.json`);
        const cfg = JSON.parse(readFileSync(conf, 'utf8')) as Record<string, unknown>;
        cfg.log = { ...(cfg.log as object | undefined), level: 'debug' };
        const modified = `${JSON.stringify(cfg, null, 2)}\n`;
        writeFileSync(conf, modified);
        writeFileSync(R(`var/lib/${name}/marker`), 'state\n');

        // v2: the same executable, version bumped, built and signed by the debian Target
        const exe = dataFiles.find((e) => e.path === `usr/bin/${name}`);
        assert.ok(exe?.data, 'executable in the package');
        writeFileSync(join(work, 'exe'), exe.data, { mode: 0o755 });
        const base = semverOf(v1.control.Version).replace(/-.*$/, '').split('.').map(Number);
        const next = `${base[0]}.${base[1]}.${base[2] + 1}`;
        const info: PackageInfo = {
          ...packageInfo(loadManifest(ROOT, undefined)),
          versions: mapVersion(next),
        };
        assert.equal(info.name, name, 'the manifest names the package the build wrote');
        const key = await generateTestKey(name, new Date('2020-01-01T00:00:00Z'));
        const out = join(work, 'dist');
        await buildSuite(
          {
            // the same date: a Release dated in the future is "not valid yet" for apt
            info,
            mtime: Number(v1.members[0].mtime),
            outDir: out,
            executables: { arm64: join(work, 'exe') },
            bundle: '',
            licenses: '',
            sboms: {},
            cacheDir: join(work, 'cache'),
            keys: { openpgpPrivate: key },
            log: () => {},
          },
          DEBIAN_SUITE,
          { dataCompression: 'gzip' },
        );
        useRepo(join(out, 'apt'), readFileSync(join(out, 'apt', `${name}-archive-keyring.gpg`)));
        must(apt('update'), 'apt-get update (v2)');
        must(apt('install', name), 'apt-get install (upgrade)');
        assert.equal(
          must(root.chroot(['dpkg-query', '-W', '-f=${Version}', name]), 'dpkg-query'),
          info.versions.deb,
        );
        assert.equal(readFileSync(conf, 'utf8'), modified, 'modified conffile kept');
        assert.ok(existsSync(R(`var/lib/${name}/marker`)), 'state kept');
        must(
          root.chroot([
            'chroot',
            `--userspec=${name}:${name}`,
            '/',
            `/usr/bin/${name}`,
            'check-config',
            `/etc/${name}/${name}.json`,
          ]),
          'check-config on the kept config',
        );

        must(apt('purge', name), 'apt-get purge');
        assert.ok(!existsSync(R(`var/lib/${name}`)), 'state removed');
        assert.ok(!existsSync(R(`etc/${name}`)), 'config and keys removed');
        assert.ok(
          !existsSync(R(`etc/systemd/system/multi-user.target.wants/${name}.service`)),
          'unit no longer enabled',
        );
        assert.notEqual(
          root.chroot(['dpkg-query', '-W', '-f=${db:Status-Status}', name]).stdout,
          'installed',
        );
      });
    } finally {
      root.cleanup();
      rmSync(work, { recursive: true, force: true });
    }
  },
);
