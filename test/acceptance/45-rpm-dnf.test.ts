// The RPMs and the dnf repository the build wrote (rhel target), checked with the real tools:
// rpm -K against the repository key in a throw-away rpmdb, rpm -qip / -qlp --dump, rpmlint
// (targets/rhel/rpmlint.toml: every waiver has its reason), the executable's ELF version
// needs against the package's Requires, createrepo_c's metadata for the same files as a
// reference for ours, and dnf 4 with our .repo (file:// baseurl, gpgcheck=1,
// repo_gpgcheck=1) against an install root: a tampered repomd.xml, primary.xml or package
// is refused; install, the engine runs in the root as the service user, an upgrade to a
// second version (built here with a throw-away key) keeps a changed config, removal stops
// and disables. The install root is the cached Debian bookworm amd64 root (it has glibc,
// systemd and shadow's useradd); a stand-in package built with our writer tells rpm that
// the EL base packages our Requires name (glibc's sonames, shadow-utils) are there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { needRoot, needTool } from '../helpers/tools.ts';
import { AMD64_SYSTEMD_ROOT, ARM64_ROOT, copyRootfs, type RootCopy } from '../helpers/rootfs.ts';
import { buildRpm } from '../../targets/rhel/rpm.ts';
import { EXECUTABLE_REQUIRES } from '../../targets/rhel/package.ts';
import { buildRhel } from '../../targets/rhel/index.ts';
import { payloadFiles, readRpm } from '../../targets/rhel/inspect.ts';
import { generateTestKey, loadSigner } from '../../targets/formats/apt/sign.ts';
import { mapVersion } from '../../targets/version.ts';
import type { Artifact, PackageInfo } from '../../targets/target.ts';
import { loadManifest, packageInfo } from '../../scripts/manifest.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DIST = process.env.EDGEWAN_TEST_DIST ?? join(ROOT, 'dist');
const RPMLINT_CONFIG = join(ROOT, 'targets', 'rhel', 'rpmlint.toml');

interface Run {
  status: number | null;
  out: string;
}
function run(cmd: string, args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    env: { ...process.env, LC_ALL: 'C.UTF-8', ...env },
  });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
function must(r: Run, what: string): string {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.out.slice(-4000)}`);
  return r.out;
}

function artifacts(): { rpms: Artifact[]; repo: Artifact } {
  const arts = JSON.parse(readFileSync(join(DIST, 'artifacts.json'), 'utf8')) as Artifact[];
  const rpms = arts.filter((a) => a.type === 'rpm' && a.target === 'rhel');
  const repo = arts.find((a) => a.type === 'rpm-repo' && a.target === 'rhel');
  assert.ok(
    rpms.some((a) => a.platform === 'x86_64') && repo,
    'no rhel x86_64 rpm / rpm-repo in dist/artifacts.json (build with --arch x64,arm64 --target rhel)',
  );
  return { rpms, repo: repo! };
}

test(
  'rpm: rpm -K, rpm -qip/-qlp --dump, rpmlint, ELF needs, createrepo_c agrees',
  { timeout: 20 * 60_000 },
  async (t) => {
    for (const tool of ['rpm', 'rpmlint', 'createrepo_c', 'readelf'])
      if (!needTool(t, tool, { createrepo_c: 'createrepo-c', readelf: 'binutils' }[tool] ?? tool)) return;
    const { rpms, repo } = artifacts();
    const work = mkdtempSync(join(tmpdir(), 'ewE-rpm-'));
    try {
      const repoDir = join(DIST, repo.path);
      const keyFile = readdirSync(repoDir).find((f) => f.startsWith('RPM-GPG-KEY-'));
      assert.ok(keyFile, 'public key in the repository');
      const db = join(work, 'rpmdb');
      mkdirSync(db);
      must(run('rpm', ['--dbpath', db, '--import', join(repoDir, keyFile)]), 'rpm --import');
      // rpmlint checks signatures with the user's rpmdb: point it at the throw-away one
      mkdirSync(join(work, 'home'));
      writeFileSync(join(work, 'home', '.rpmmacros'), `%_dbpath ${db}\n`);

      for (const a of rpms) {
        const file = join(DIST, a.path);
        await t.test(`${a.platform}: rpm -K verifies digests and the signature`, () => {
          const k = must(run('rpm', ['--dbpath', db, '-Kv', file]), 'rpm -Kv');
          for (const re of [
            /Header V4 \S+ Signature, key ID [0-9a-f]{8}: OK/,
            /Header SHA256 digest: OK/,
            /Payload SHA256 digest: OK/,
            /MD5 digest: OK/,
          ])
            assert.match(k, re);
          assert.doesNotMatch(k, /NOKEY|BAD|NOT OK/);
        });

        await t.test(`${a.platform}: rpm -qip and -qlp --dump: names, owners, modes, scripts`, () => {
          const qi = must(run('rpm', ['--dbpath', db, '-qip', file]), 'rpm -qip');
          const name = /^Name\s*: (\S+)$/m.exec(qi)![1];
          assert.match(qi, new RegExp(`^Architecture: ${a.platform}$`, 'm'));
          assert.match(qi, /^Signature\s*: \S+, .*Key ID [0-9a-f]{16}$/m);
          const dump = new Map(
            must(run('rpm', ['--dbpath', db, '-qlp', '--dump', file]), 'rpm -qlp --dump')
              .trim()
              .split('\n')
              .map((l) => {
                const f = l.split(' ');
                return [f[0], f];
              }),
          );
          const row = (p: string) => {
            const f = dump.get(p);
            assert.ok(f, `${p} in the package`);
            return f.slice(4, 8).join(' ');
          };
          assert.equal(row(`/usr/bin/${name}`), '0100755 root root 0');
          assert.equal(row(`/etc/${name}/${name}.json`), `0100640 root ${name} 1`);
          assert.equal(row(`/etc/${name}/keys`), `040750 root ${name} 0`);
          assert.equal(row(`/var/lib/${name}`), `040750 ${name} ${name} 0`);
          assert.equal(row(`/usr/lib/sysusers.d/${name}.conf`), '0100644 root root 0');
          assert.ok(dump.has(`/usr/share/licenses/${name}/third-party-notices.txt`), 'license notices');
          for (const [p, f] of dump)
            if (!p.startsWith(`/var/lib/${name}`)) assert.equal(f[5], 'root', `${p} owned by root`);
          const unit = [...dump.keys()].find((p) => p.startsWith('/usr/lib/systemd/system/'));
          assert.ok(unit, 'systemd unit');
          const scripts = must(run('rpm', ['--dbpath', db, '-qp', '--scripts', file]), 'rpm --scripts');
          for (const s of ['preinstall', 'postinstall', 'preuninstall', 'postuninstall'])
            assert.match(scripts, new RegExp(`^${s} scriptlet \\(using /bin/sh\\):$`, 'm'));
          assert.match(scripts, /systemctl --no-reload preset /);
          assert.match(scripts, /systemctl --no-reload disable --now /);
          assert.match(scripts, /systemctl try-restart /);
          assert.doesNotMatch(
            scripts,
            /systemctl (--no-reload )?(start|enable) /,
            'install never starts or force-enables the service',
          );
        });

        await t.test(`${a.platform}: rpmlint reports nothing beyond the justified waivers`, () => {
          const r = run('rpmlint', ['-c', RPMLINT_CONFIG, file], { HOME: join(work, 'home') });
          assert.match(r.out, /0 errors, 0 warnings/, r.out);
          assert.equal(r.status, 0, r.out);
        });

        await t.test(
          `${a.platform}: the executable needs no more than the package Requires (glibc 2.28: EL 8)`,
          async () => {
            const exe = (await payloadFiles(readFileSync(file))).find((e) => e.path.startsWith('usr/bin/'));
            assert.ok(exe, 'executable in the payload');
            writeFileSync(join(work, 'exe'), exe.data);
            const needed = must(run('readelf', ['-V', '-W', join(work, 'exe')]), 'readelf -V');
            // highest PREFIX_x.y.z named in text, as a comparable key (components padded to 4 digits, 4 components)
            const max = (prefix: string, text: string) =>
              [...text.matchAll(new RegExp(`\\b${prefix}_([0-9][0-9.]*)`, 'g'))]
                .map((m) => {
                  const c = m[1].replace(/\.$/, '').split('.');
                  while (c.length < 4) c.push('0');
                  return c.map((n) => n.padStart(4, '0')).join('.');
                })
                .sort()
                .pop() ?? '';
            const declared = EXECUTABLE_REQUIRES.join(' ');
            const section = needed.slice(needed.indexOf('Version needs section'));
            for (const p of ['GLIBC', 'GLIBCXX', 'CXXABI', 'GCC']) {
              assert.ok(
                max(p, section) <= max(p, declared),
                `${p}: the executable needs ${max(p, section)}, the package declares only ${max(p, declared)}`,
              );
            }
            assert.ok(max('GLIBC', declared) <= max('GLIBC', 'GLIBC_2.28'), 'EL 8 has glibc 2.28');
            // the license notices shipped with it name the embedded Node.js runtime
            const notices = (await payloadFiles(readFileSync(file))).find((e) =>
              /^usr\/share\/licenses\/[^/]+\/third-party-notices\.txt$/.test(e.path),
            );
            assert.ok(
              notices?.data.toString('utf8').includes('Node.js is licensed for use as follows'),
              "third-party notices carry Node.js's LICENSE",
            );
          },
        );
      }

      await t.test('createrepo_c on the same packages lists what our primary.xml lists', () => {
        const ref = join(work, 'ref');
        mkdirSync(join(ref, 'Packages'), { recursive: true });
        for (const a of rpms) cpSync(join(DIST, a.path), join(ref, 'Packages', a.path.split('/').pop()!));
        must(run('createrepo_c', ['--no-database', '--simple-md-filenames', ref]), 'createrepo_c');
        const refPrimary = gunzipSync(readFileSync(join(ref, 'repodata', 'primary.xml.gz'))).toString('utf8');
        const repomd = readFileSync(join(repoDir, 'repodata', 'repomd.xml'), 'utf8');
        const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1];
        const ours = gunzipSync(readFileSync(join(repoDir, href))).toString('utf8');
        const facts = (xml: string) =>
          [...xml.matchAll(/<package type="rpm">([\s\S]*?)<\/package>/g)]
            .map(([, b]) => ({
              pkgid: /pkgid="YES">([0-9a-f]+)</.exec(b)![1],
              range: /<rpm:header-range [^>]*\/>/.exec(b)![0],
              size: /<size [^>]*\/>/.exec(b)![0],
              version: /<version [^>]*\/>/.exec(b)![0],
              provides: [
                ...(/<rpm:provides>([\s\S]*?)<\/rpm:provides>/.exec(b)?.[1] ?? '').matchAll(
                  /<rpm:entry [^>]*\/>/g,
                ),
              ]
                .map((m) => m[0])
                .sort(),
              requires: [
                ...(/<rpm:requires>([\s\S]*?)<\/rpm:requires>/.exec(b)?.[1] ?? '').matchAll(
                  /<rpm:entry [^>]*\/>/g,
                ),
              ]
                .map((m) => m[0])
                .sort(),
              files: [...b.matchAll(/<file[^>]*>[^<]*<\/file>/g)].map((m) => m[0]).sort(),
            }))
            .sort((x, y) => (x.pkgid < y.pkgid ? -1 : 1));
        assert.deepEqual(facts(ours), facts(refPrimary));
      });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
);

/** dnf 4 driving an install root with only our repository, configured by our .repo file. */
async function dnfRoot(root: RootCopy, work: string, forcearch?: string) {
  const R = (p: string) => join(root.dir, p);
  const served = join(work, 'repo');
  const reposdir = join(work, 'yum.repos.d');
  const conf = join(work, 'dnf.conf');
  mkdirSync(reposdir);
  writeFileSync(
    conf,
    `[main]\ngpgcheck=1\nskip_if_unavailable=False\ninstall_weak_deps=False\nreposdir=${reposdir}\ncachedir=${join(work, 'cache')}\nlogdir=${join(work, 'log')}\n`,
  );
  const useRepo = (from: string) => {
    rmSync(served, { recursive: true, force: true });
    cpSync(from, served, { recursive: true });
    // with --installroot dnf keeps its cache inside the root (R(cachedir)), and it does not notice
    // that a file:// repository changed under it: a stale primary.xml from the last repository
    // served here would make the next install fail with 'incorrect checksum'
    rmSync(R(join(work, 'cache')), { recursive: true, force: true });
    // the .repo file exactly as shipped, pointed at where the repository is "published"
    const repoFile = readdirSync(from).find((f) => f.endsWith('.repo'))!;
    writeFileSync(
      join(reposdir, repoFile),
      readFileSync(join(from, repoFile), 'utf8').replaceAll(
        'https://REPLACE-WITH-YOUR-HOST/rhel',
        `file://${served}`,
      ),
    );
  };
  const dnf = (...args: string[]) =>
    run('dnf', [
      '-y',
      `--config=${conf}`,
      `--installroot=${root.dir}`,
      '--releasever=9',
      `--setopt=reposdir=${reposdir}`,
      '--disableplugin=*',
      ...(forcearch ? [`--forcearch=${forcearch}`] : []),
      ...args,
    ]);
  const rpmq = (...args: string[]) => run('rpm', ['--root', root.dir, ...args]);
  const inRoot = (...args: string[]): Run => {
    const r = root.chroot(args);
    return { status: r.status, out: r.stdout + r.stderr };
  };
  // what an EL base would provide, recorded in the root's rpmdb (no files)
  const base = await buildRpm({
    name: 'el-base-stand-in',
    version: '1',
    release: '1',
    arch: 'noarch',
    summary: 'stands in for glibc, libstdc++ and shadow-utils',
    description: 'Test only.',
    license: 'MIT',
    vendor: 'test',
    packager: 'test',
    url: 'https://edgewan.invalid/',
    mtime: 1767225600,
    files: [],
    provides: [...EXECUTABLE_REQUIRES, '/bin/sh', 'shadow-utils'].map((n) => ({ name: n })),
    compression: 'gzip',
  });
  writeFileSync(join(work, 'base.rpm'), base.rpm);
  must(
    rpmq('-i', '--justdb', '--nosignature', '--nodeps', join(work, 'base.rpm')),
    'recording the base stand-in',
  );
  return { R, served, useRepo, dnf, rpmq, inRoot };
}

test(
  'dnf with our .repo on an install root: signatures checked, tampering refused, install, run, upgrade, remove',
  { timeout: 30 * 60_000 },
  async (t) => {
    if (!needRoot(t) || !needTool(t, 'dnf') || !needTool(t, 'rpm') || !needTool(t, 'mmdebstrap')) return;
    const { rpms, repo } = artifacts();
    const x64 = rpms.find((a) => a.platform === 'x86_64')!;
    const v1 = readRpm(readFileSync(join(DIST, x64.path))).header.tags;
    const name = String(v1.get(1000)!.value);
    const version = String(v1.get(1001)!.value);
    const root = copyRootfs(AMD64_SYSTEMD_ROOT);
    const work = mkdtempSync(join(tmpdir(), 'ewE-dnf-'));
    try {
      const { R, served, useRepo, dnf, rpmq, inRoot } = await dnfRoot(root, work);
      useRepo(join(DIST, repo.path));

      await t.test('a tampered repomd.xml is refused (repo_gpgcheck)', () => {
        const f = join(served, 'repodata', 'repomd.xml');
        writeFileSync(f, readFileSync(f, 'utf8').replace('<revision>', '<revision>1'));
        const r = dnf('makecache');
        assert.notEqual(r.status, 0, `dnf accepted a modified repomd.xml:\n${r.out}`);
        assert.match(r.out, /repomd\.xml GPG signature verification error: Bad GPG signature/);
        useRepo(join(DIST, repo.path));
      });

      await t.test('a tampered primary.xml is refused (checksum in the signed repomd.xml)', () => {
        const md = readFileSync(join(served, 'repodata', 'repomd.xml'), 'utf8');
        const f = join(served, /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(md)![1]);
        const xml = gunzipSync(readFileSync(f))
          .toString('utf8')
          .replace(/<summary>/g, '<summary>tampered ');
        writeFileSync(f, spawnSync('gzip', ['-9n'], { input: xml }).stdout);
        const r = dnf('makecache');
        assert.notEqual(r.status, 0, `dnf accepted a modified primary.xml:\n${r.out}`);
        assert.match(r.out, /checksum doesn't match/);
        useRepo(join(DIST, repo.path));
      });

      await t.test('a tampered package is refused', () => {
        const f = join(served, x64.path.replace(/^rhel\//, ''));
        const bad = readFileSync(f);
        bad[bad.length >> 1] ^= 0xff;
        writeFileSync(f, bad);
        const r = dnf('install', name);
        assert.notEqual(r.status, 0, `dnf installed a modified package:\n${r.out}`);
        assert.match(r.out, /has incorrect checksum/);
        assert.notEqual(rpmq('-q', name).status, 0, 'nothing installed');
        useRepo(join(DIST, repo.path));
      });

      await t.test(
        'a package signed by another key is refused (gpgcheck), though the metadata is signed right',
        async () => {
          // packages and metadata by the rhel target with key B; then repomd.xml re-signed with key A
          // and A published as the repository key: only the package signatures are wrong
          const exe = (await payloadFiles(readFileSync(join(DIST, x64.path)))).find(
            (e) => e.path === `usr/bin/${name}`,
          );
          writeFileSync(join(work, 'exe-b'), exe!.data, { mode: 0o755 });
          const mtime = Number(v1.get(1006)!.value);
          const info = packageInfo(loadManifest(ROOT, undefined));
          const out = join(work, 'dist-b');
          await buildRhel(
            {
              info,
              mtime,
              outDir: out,
              executables: { x64: join(work, 'exe-b') },
              bundle: '',
              licenses: '',
              sboms: {},
              cacheDir: join(work, 'memo'),
              keys: { openpgpPrivate: await generateTestKey(`${name}-b`, new Date('2020-01-01T00:00:00Z')) },
              log: () => {},
            },
            { compression: 'gzip' },
          );
          const a = await loadSigner(
            await generateTestKey(`${name}-a`, new Date('2020-01-01T00:00:00Z')),
            mtime,
          );
          const md = join(out, 'rhel', 'repodata', 'repomd.xml');
          writeFileSync(`${md}.asc`, await a.detachSign(readFileSync(md)));
          writeFileSync(join(out, 'rhel', `RPM-GPG-KEY-${name}`), a.publicArmored);
          useRepo(join(out, 'rhel'));
          const r = dnf('install', name);
          assert.notEqual(
            r.status,
            0,
            `dnf installed a package signed by a key the repository does not name:\n${r.out}`,
          );
          assert.match(r.out, /GPG check FAILED|not installed|NOKEY|public key/i);
          assert.notEqual(rpmq('-q', name).status, 0, 'nothing installed');
          rpmq('-e', '--allmatches', 'gpg-pubkey'); // forget key A if dnf imported it
          useRepo(join(DIST, repo.path));
        },
      );

      await t.test(
        'dnf install: signature verified, user, modes, the engine runs as the service user',
        () => {
          const out = must(dnf('install', name), 'dnf install');
          assert.match(out, /Importing GPG key/);
          assert.match(
            must(
              rpmq('-q', '--qf', '%{SIGPGP:pgpsig}%{DSAHEADER:pgpsig}%{RSAHEADER:pgpsig}', name),
              'rpm -q',
            ),
            /Key ID [0-9a-f]{16}/,
          );
          assert.match(
            readFileSync(R('etc/passwd'), 'utf8'),
            new RegExp(`^${name}:x:\\d+:\\d+:[^:]*:/var/lib/${name}:`, 'm'),
          );
          const st = statSync(R(`etc/${name}/keys`));
          assert.equal(st.mode & 0o7777, 0o750);
          assert.equal(statSync(R(`etc/${name}/${name}.json`)).mode & 0o7777, 0o640);
          assert.equal(must(rpmq('-V', name), 'rpm -V').trim(), '', 'rpm -V finds every file as packaged');
          const v = must(inRoot(`/usr/bin/${name}`, '--version'), '--version');
          assert.ok(v.includes(version.replace('~', '-')), `--version printed ${v}`);
          must(
            inRoot(
              'chroot',
              `--userspec=${name}:${name}`,
              '/',
              `/usr/bin/${name}`,
              'check-config',
              `/etc/${name}/${name}.json`,
            ),
            'check-config as the service user',
          );
        },
      );

      await t.test(
        'an upgrade keeps the changed config and the state; removal disables and keeps nothing but them',
        async () => {
          const confPath = R(`etc/${name}/${name}.json`);
          const cfg = JSON.parse(readFileSync(confPath, 'utf8')) as Record<string, unknown>;
          cfg.log = { ...(cfg.log as object | undefined), level: 'debug' };
          const modified = `${JSON.stringify(cfg, null, 2)}\n`;
          writeFileSync(confPath, modified);
          writeFileSync(R(`var/lib/${name}/marker`), 'state\n');

          // v2: the same executable, version bumped, built and signed (throw-away key) by the rhel target
          const exe = (await payloadFiles(readFileSync(join(DIST, x64.path)))).find(
            (e) => e.path === `usr/bin/${name}`,
          );
          assert.ok(exe, 'executable in the package');
          writeFileSync(join(work, 'exe'), exe.data, { mode: 0o755 });
          const b = version.replace(/~.*$/, '').split('.').map(Number);
          const info: PackageInfo = {
            ...packageInfo(loadManifest(ROOT, undefined)),
            versions: mapVersion(`${b[0]}.${b[1]}.${b[2] + 1}`),
          };
          assert.equal(info.name, name, 'the manifest names the package the build wrote');
          const out = join(work, 'dist');
          await buildRhel(
            {
              info,
              mtime: Number(v1.get(1006)!.value),
              outDir: out,
              executables: { x64: join(work, 'exe') },
              bundle: '',
              licenses: '',
              sboms: {},
              cacheDir: join(work, 'memo'),
              keys: { openpgpPrivate: await generateTestKey(name, new Date('2020-01-01T00:00:00Z')) },
              log: () => {},
            },
            { compression: 'gzip' },
          );
          useRepo(join(out, 'rhel'));
          must(dnf('upgrade', name), 'dnf upgrade');
          assert.equal(must(rpmq('-q', '--qf', '%{VERSION}-%{RELEASE}', name), 'rpm -q'), info.versions.rpm);
          assert.equal(readFileSync(confPath, 'utf8'), modified, 'changed config kept');
          assert.ok(existsSync(R(`var/lib/${name}/marker`)), 'state kept');
          must(
            inRoot(
              'chroot',
              `--userspec=${name}:${name}`,
              '/',
              `/usr/bin/${name}`,
              'check-config',
              `/etc/${name}/${name}.json`,
            ),
            'check-config on the kept config',
          );

          // the chroot's presets enabled the unit on install (Debian's "enable *"; EL's default disables)
          must(inRoot('systemctl', 'enable', `${info.serviceName}.service`), 'systemctl enable');
          must(dnf('remove', name), 'dnf remove');
          assert.notEqual(rpmq('-q', name).status, 0, 'removed');
          assert.ok(!existsSync(R(`usr/bin/${name}`)), 'executable removed');
          assert.ok(
            !existsSync(R(`etc/systemd/system/multi-user.target.wants/${info.serviceName}.service`)),
            'unit disabled by %preun',
          );
          assert.equal(
            readFileSync(R(`etc/${name}/${name}.json.rpmsave`), 'utf8'),
            modified,
            'the changed config is kept as .rpmsave',
          );
          assert.ok(
            existsSync(R(`var/lib/${name}/marker`)),
            'state left for the admin (rpm keeps non-empty dirs)',
          );
        },
      );
    } finally {
      root.cleanup();
      rmSync(work, { recursive: true, force: true });
    }
  },
);

test(
  'dnf --forcearch aarch64: the aarch64 package installs from the repo and the engine runs under qemu',
  { timeout: 20 * 60_000 },
  async (t) => {
    if (
      !needRoot(t) ||
      !needTool(t, 'dnf') ||
      !needTool(t, 'rpm') ||
      !needTool(t, 'mmdebstrap') ||
      !needTool(t, 'qemu-aarch64-static', 'qemu-user-static')
    )
      return;
    const { rpms, repo } = artifacts();
    const a64 = rpms.find((a) => a.platform === 'aarch64');
    assert.ok(a64, 'no rhel aarch64 rpm in dist/artifacts.json (build with --arch x64,arm64 --target rhel)');
    const name = String(readRpm(readFileSync(join(DIST, a64.path))).header.tags.get(1000)!.value);
    const root = copyRootfs(ARM64_ROOT);
    const work = mkdtempSync(join(tmpdir(), 'ewE-dnf-'));
    try {
      const { useRepo, dnf, rpmq, inRoot } = await dnfRoot(root, work, 'aarch64');
      useRepo(join(DIST, repo.path));
      must(dnf('install', name), 'dnf install (aarch64)');
      assert.match(must(rpmq('-q', '--qf', '%{ARCH}', name), 'rpm -q'), /^aarch64$/);
      assert.match(must(inRoot(`/usr/bin/${name}`, '--version'), '--version'), /arch=arm64/);
      must(
        inRoot(
          'chroot',
          `--userspec=${name}:${name}`,
          '/',
          `/usr/bin/${name}`,
          'check-config',
          `/etc/${name}/${name}.json`,
        ),
        'check-config as the service user',
      );
      must(dnf('remove', name), 'dnf remove');
    } finally {
      root.cleanup();
      rmSync(work, { recursive: true, force: true });
    }
  },
);
