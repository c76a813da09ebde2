// The RPM writer (targets/rhel/) on stand-in executables, checked against rpm 4.18 itself:
// `rpm -qp --queryformat` reads back what our own header reader reads, `rpm -K` with the key
// imported into a throw-away rpmdb verifies digests and the header signature (EdDSA and RSA
// keys), two builds are byte-identical, rpm orders the mapped versions as semver does, and
// bad input fails before anything is written, naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { needTool } from '../helpers/tools.ts';
import { buildRhel, planRhel, rhelTarget } from '../../targets/rhel/index.ts';
import { readRpm, inspectRpm, inspectRpmRepo, payloadFiles } from '../../targets/rhel/inspect.ts';
import { SIGTAG, TAG } from '../../targets/rhel/rpm.ts';
import { rpmScripts } from '../../targets/rhel/package.ts';
import { renderUnit } from '../../targets/formats/apt/systemd.ts';
import { mapVersion } from '../../targets/version.ts';
import type { BuildInputs } from '../../targets/target.ts';
import { info, inputs, tempDir, MTIME } from './deb-fixture.ts';

function rpm(args: string[], dbpath?: string): { status: number | null; out: string } {
  const r = spawnSync('rpm', [...(dbpath ? ['--dbpath', dbpath] : []), ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

async function built(over: Partial<BuildInputs> = {}) {
  const inp = await inputs(over);
  const arts = await buildRhel(inp, { compression: 'gzip' });
  return { inp, arts, repo: join(inp.outDir, 'rhel') };
}

test('rpm writer: rpm reads back our header, file list and scripts; rpm -K verifies the EdDSA signature', async (t) => {
  if (!needTool(t, 'rpm')) return;
  const { inp, arts, repo } = await built();
  assert.deepEqual(
    arts.map((a) => `${a.type} ${a.path} ${a.platform ?? a.platforms?.join(',')} ${a.target}`),
    [
      'rpm rhel/Packages/acmewan-1.2.0-1.x86_64.rpm x86_64 rhel',
      'rpm rhel/Packages/acmewan-1.2.0-1.aarch64.rpm aarch64 rhel',
      'rpm-repo rhel aarch64,x86_64 rhel',
    ],
  );
  const file = join(inp.outDir, arts[0].path);
  const buf = readFileSync(file);
  assert.equal(createHash('sha256').update(buf).digest('hex'), arts[0].sha256);
  const ours = readRpm(buf).header.tags;
  const qf =
    '%{NAME}|%{VERSION}|%{RELEASE}|%{ARCH}|%{LICENSE}|%{VENDOR}|%{PACKAGER}|%{URL}|%{BUILDTIME}|%{SIZE}|%{SUMMARY}';
  assert.equal(
    rpm(['-qp', '--nosignature', '--qf', qf, file]).out,
    [
      TAG.NAME,
      TAG.VERSION,
      TAG.RELEASE,
      TAG.ARCH,
      TAG.LICENSE,
      TAG.VENDOR,
      TAG.PACKAGER,
      TAG.URL,
      TAG.BUILDTIME,
      TAG.SIZE,
      TAG.SUMMARY,
    ]
      .map((tg) => {
        const v = ours.get(tg)!.value;
        return Array.isArray(v) ? String(v[0]) : String(v);
      })
      .join('|'),
  );
  assert.equal(
    rpm(['-qp', '--nosignature', '--qf', '%{NAME}-%{VERSION}-%{RELEASE} %{ARCH}', file]).out,
    'acmewan-1.2.0-1 x86_64',
  );

  // rpm -qlp --dump: path size mtime digest mode owner group config doc rdev symlink
  const dump = new Map(
    rpm(['-qlp', '--dump', '--nosignature', file])
      .out.trim()
      .split('\n')
      .map((l) => {
        const f = l.split(' ');
        return [f[0], f];
      }),
  );
  const expect: Array<[string, string, string, string, string]> = [
    ['/usr/bin/acmewan', '0100755', 'root', 'root', '0'],
    ['/usr/lib/systemd/system/acmewan.service', '0100644', 'root', 'root', '0'],
    ['/usr/lib/sysusers.d/acmewan.conf', '0100644', 'root', 'root', '0'],
    ['/usr/lib/acmewan/resolved-dns', '0100755', 'root', 'root', '0'],
    ['/etc/acmewan/acmewan.json', '0100640', 'root', 'acmewan', '1'],
    ['/etc/acmewan/keys', '040750', 'root', 'acmewan', '0'],
    ['/var/lib/acmewan', '040750', 'acmewan', 'acmewan', '0'],
    ['/usr/share/licenses/acmewan/COPYRIGHT', '0100644', 'root', 'root', '0'],
    ['/usr/share/licenses/acmewan/third-party-notices.txt', '0100644', 'root', 'root', '0'],
    ['/usr/share/man/man1/acmewan.1.gz', '0100644', 'root', 'root', '0'],
  ];
  for (const [path, mode, user, group, config] of expect) {
    const f = dump.get(path);
    assert.ok(f, `${path} in rpm -qlp --dump`);
    assert.deepEqual([f[4], f[5], f[6], f[7]], [mode, user, group, config], path);
  }
  assert.equal(
    dump.get('/usr/bin/acmewan')![3],
    createHash('sha256').update(readFileSync(inp.executables.x64!)).digest('hex'),
    'SHA-256 file digest',
  );
  assert.ok(!dump.has('/usr/bin') && !dump.has('/etc'), 'system directories are not owned');
  assert.equal(
    rpm(['-qp', '--nosignature', '--qf', '[%{FILEFLAGS} %{FILENAMES}\n]', file])
      .out.split('\n')
      .find((l) => l.endsWith('.json')),
    '17 /etc/acmewan/acmewan.json',
    '%config(noreplace)',
  );
  const unit = rpm(['-qp', '--nosignature', '--qf', '%{FILEDIGESTS}', file]);
  assert.equal(unit.status, 0);
  // the unit is the Debian unit, byte for byte
  const i = info();
  const unitDigest = rpm(['-qp', '--nosignature', '--qf', '[%{FILENAMES} %{FILEDIGESTS}\n]', file])
    .out.split('\n')
    .find((l) => l.startsWith('/usr/lib/systemd/system/'))!
    .split(' ')[1];
  assert.equal(unitDigest, createHash('sha256').update(renderUnit(i)).digest('hex'));

  const scripts = rpm(['-qp', '--nosignature', '--scripts', file]).out;
  const s = rpmScripts(i);
  for (const [name, body] of [
    ['preinstall', s.pre],
    ['postinstall', s.post],
    ['preuninstall', s.preun],
    ['postuninstall', s.postun],
  ]) {
    assert.ok(
      scripts.includes(`${name} scriptlet (using /bin/sh):\n${body}`),
      `${name} scriptlet as written`,
    );
    const sh = spawnSync('sh', ['-n'], { input: body, encoding: 'utf8' });
    assert.equal(sh.status, 0, `${name}: sh -n: ${sh.stderr}`);
  }
  const reqs = rpm(['-qpR', '--nosignature', file]).out;
  for (const r of [
    'libc.so.6(GLIBC_2.28)(64bit)',
    'shadow-utils',
    'config(acmewan) = 1.2.0-1',
    'rpmlib(PayloadFilesHavePrefix) <= 4.0-1',
  ])
    assert.ok(reqs.includes(r), `requires ${r}`);
  assert.match(rpm(['-qp', '--provides', '--nosignature', file]).out, /^acmewan\(x86-64\) = 1\.2\.0-1$/m);
  assert.match(
    rpm(['-qp', '--provides', '--nosignature', join(inp.outDir, arts[1].path)]).out,
    /^acmewan\(aarch-64\) = 1\.2\.0-1$/m,
  );

  // no key: NOKEY; key imported into a throw-away rpmdb: everything OK
  const db = tempDir();
  assert.match(rpm(['-Kv', file], db).out, /Header V4 EdDSA\/SHA512 Signature, key ID [0-9a-f]{8}: NOKEY/);
  assert.equal(rpm(['--import', join(repo, 'RPM-GPG-KEY-acmewan')], db).status, 0);
  const k = rpm(['-Kv', file, join(inp.outDir, arts[1].path)], db);
  assert.equal(k.status, 0, k.out);
  for (const line of [
    /Header V4 EdDSA\/SHA512 Signature, key ID [0-9a-f]{8}: OK/,
    /Header SHA256 digest: OK/,
    /Header SHA1 digest: OK/,
    /Payload SHA256 digest: OK/,
    /MD5 digest: OK/,
  ]) {
    assert.equal(
      k.out.match(new RegExp(line.source, 'g'))?.length,
      2,
      `${line} for both packages:\n${k.out}`,
    );
  }
  // one flipped payload byte: rpm -K fails
  const bad = Buffer.from(buf);
  bad[bad.length - 100] ^= 0xff;
  writeFileSync(join(db, 'bad.rpm'), bad);
  const kb = rpm(['-K', join(db, 'bad.rpm')], db);
  assert.notEqual(kb.status, 0);
  assert.match(kb.out, /DIGESTS? SIGNATURES? NOT OK|digests? SIGNATURES? NOT OK|NOT OK/);

  // OEM branding: nothing in the header, the payload or the repository says "edgewan"
  const parsed = readRpm(buf);
  assert.doesNotMatch(parsed.header.blob.toString('latin1'), /edgewan/i, 'header');
  for (const f of await payloadFiles(buf))
    assert.doesNotMatch(f.path.endsWith('.gz') ? '' : f.data.toString('latin1'), /edgewan/i, f.path);
  for (const f of ['acmewan.repo', 'repodata/repomd.xml'])
    assert.doesNotMatch(readFileSync(join(repo, f), 'utf8'), /edgewan/i, f);

  // our own readers agree
  const insp = (await inspectRpm(file)) as { allVerified: boolean; signature: { verified: boolean } };
  assert.equal(insp.allVerified, true);
  const rinsp = (await inspectRpmRepo(repo)) as { allVerified: boolean; packages: unknown[] };
  assert.equal(rinsp.allVerified, true);
  assert.equal(rinsp.packages.length, 2);
});

test('rpm writer: an RSA key signs with RPMSIGTAG_RSA and rpm -K verifies it', async (t) => {
  if (!needTool(t, 'rpm')) return;
  const { privateKey } = await openpgp.generateKey({
    type: 'rsa',
    rsaBits: 2048,
    format: 'armored',
    date: new Date('2020-01-01T00:00:00Z'),
    userIDs: [{ name: 'acmewan rsa test key', email: 'test@edgewan.invalid' }],
    config: { v6Keys: false },
  });
  const { inp, arts, repo } = await built({
    keys: { openpgpPrivate: privateKey },
    executables: { x64: (await inputs()).executables.x64 },
  });
  assert.equal(
    arts.filter((a) => a.type === 'rpm').length,
    1,
    'only the x64 package when only x64 was built',
  );
  const file = join(inp.outDir, arts[0].path);
  const sig = readRpm(readFileSync(file)).sig.tags;
  assert.ok(sig.has(SIGTAG.RSA) && !sig.has(SIGTAG.DSA), 'RSA header signature tag');
  const db = tempDir();
  assert.equal(rpm(['--import', join(repo, 'RPM-GPG-KEY-acmewan')], db).status, 0);
  const k = rpm(['-Kv', file], db);
  assert.equal(k.status, 0, k.out);
  assert.match(k.out, /Header V4 RSA\/SHA(256|512) Signature, key ID [0-9a-f]{8}: OK/);
});

test('rpm writer: two builds of the same inputs are byte-identical', async (t) => {
  if (!needTool(t, 'rpm')) return;
  const a = await built();
  const b = await built({ executables: a.inp.executables, licenses: a.inp.licenses });
  for (const rel of [
    'Packages/acmewan-1.2.0-1.x86_64.rpm',
    'Packages/acmewan-1.2.0-1.aarch64.rpm',
    'repodata/repomd.xml',
    'repodata/repomd.xml.asc',
    'acmewan.repo',
    'RPM-GPG-KEY-acmewan',
  ]) {
    assert.ok(
      readFileSync(join(a.repo, rel)).equals(readFileSync(join(b.repo, rel))),
      `${rel} differs between two builds`,
    );
  }
});

test('versions: rpm carries the mapped versions and orders them like semver', (t) => {
  assert.equal(mapVersion('1.2.0').rpm, '1.2.0-1');
  assert.equal(mapVersion('1.2.0-rc.1').rpm, '1.2.0~rc.1-1');
  assert.equal(mapVersion('1.2.0-beta2+build.5').rpm, '1.2.0~beta2-1');
  if (!needTool(t, 'rpm')) return;
  const cmp = (a: string, b: string) =>
    rpm(['--eval', `%{lua: print(rpm.vercmp("${a}", "${b}"))}`]).out.trim();
  assert.equal(cmp(mapVersion('1.2.0-rc.1').rpm, mapVersion('1.2.0').rpm), '-1');
  assert.equal(cmp(mapVersion('1.2.0-alpha.1').rpm, mapVersion('1.2.0-beta.1').rpm), '-1');
  assert.equal(cmp(mapVersion('1.2.0').rpm, mapVersion('1.2.1-rc.1').rpm), '-1');
});

test('rhel target: bad input fails before anything is written, naming the field and the fix', async () => {
  const base = await inputs();
  const cases: Array<[string, BuildInputs, RegExp]> = [
    [
      'version rpm cannot carry',
      { ...base, info: info({ versions: { ...mapVersion('1.2.0'), rpm: '1.2.0-nightly-3' } }) },
      /version "1\.2\.0": RPM Version "1\.2\.0-nightly" cannot be carried by rpm: only letters, digits and \. _ \+ ~ \^.*fix "version" in package\.json/,
    ],
    ['no signing key', { ...base, keys: {} }, /signing\.openpgpPrivateKey: .*EDGEWAN_OPENPGP_KEY/],
    [
      'no executable of a packaged arch',
      { ...base, executables: { armv7: base.executables.x64 } },
      /executables: .*made only armv7: add --arch x64 or --arch arm64/,
    ],
    [
      'executable missing on disk',
      { ...base, executables: { arm64: join(base.outDir, 'nope') } },
      /executables\.arm64: .*does not exist: build it first/,
    ],
    [
      'package name',
      { ...base, info: info({ name: 'acme wan' }) },
      /package name "acme wan" is not a valid RPM name/,
    ],
  ];
  for (const [what, inp, re] of cases) {
    assert.throws(
      () => rhelTarget.validate(inp),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'EDGEWAN_ERR_RPM_INPUT', what);
        assert.match(e.message, re, what);
        return true;
      },
      what,
    );
    await assert.rejects(buildRhel(inp), re, what);
    assert.ok(!existsSync(inp.outDir), `${what}: nothing written`);
  }
  assert.equal(planRhel(base).length, 2);
  assert.equal(MTIME, base.mtime);
});
