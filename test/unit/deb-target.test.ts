import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { inspectAptSuite } from '../../targets/formats/apt/inspect.ts';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { debianTarget } from '../../targets/debian/index.ts';
import { raspbianTarget } from '../../targets/raspbian/index.ts';
import { heapCapMiB, heapFlags, renderUnit } from '../../targets/formats/apt/systemd.ts';
import { heapFlags as engineHeapFlags } from '../../engine/src/memory/reexec.ts';
import { maintainerScripts } from '../../targets/formats/apt/scripts.ts';
import { parseControl } from '../../targets/formats/deb-control.ts';
import { inspectDeb, readDeb } from '../../targets/formats/deb-inspect.ts';
import { info, inputs } from './deb-fixture.ts';

test('unit: process contract, memory cap and branding from PackageInfo', () => {
  const u = renderUnit(
    info({ memoryMaxBytes: 256 * 1024 * 1024, defaultConfig: { supervisor: { graceS: 7 } } }),
  );
  for (const line of [
    'Restart=on-failure',
    'RestartSec=2',
    'RestartPreventExitStatus=78',
    'TimeoutStopSec=12',
    'MemoryMax=268435456',
    'Environment="NODE_OPTIONS=--max-old-space-size=128 --max-semi-space-size=8"',
    'User=acmewan',
    'Group=acmewan',
    'StateDirectory=acmewan',
    'ProtectSystem=strict',
    'NoNewPrivileges=yes',
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
    'ExecStart=/usr/bin/acmewan run --config /etc/acmewan/acmewan.json',
    'SystemCallFilter=@system-service',
  ]) {
    assert.ok(u.split('\n').includes(line), `unit lacks ${line}`);
  }
  // StartLimit* belong in [Unit] (systemd ≥ 230 ignores them in [Service])
  const unitSection = u.slice(0, u.indexOf('[Service]'));
  assert.match(unitSection, /^StartLimitIntervalSec=300$/m);
  assert.match(unitSection, /^StartLimitBurst=5$/m);
  assert.doesNotMatch(u, /MemoryDenyWriteExecute|DynamicUser|PrivateUsers/);
  assert.doesNotMatch(u, /edgewan/, 'no hard-coded product name');
  assert.match(renderUnit(info()), /^TimeoutStopSec=10$/m, 'default grace 5 s + 5');
});

test('maintainer scripts: static user, guarded systemd calls, purge removes state', () => {
  const s = maintainerScripts(info());
  assert.match(
    s.postinst,
    /adduser --quiet --system --group --no-create-home --home \/var\/lib\/acmewan acmewan/,
  );
  assert.match(s.postinst, /install -d -o root -g acmewan -m 0750 \/etc\/acmewan\/keys/);
  assert.match(
    s.postinst,
    /if \[ -d \/run\/systemd\/system \]; then[\s\S]*deb-systemd-invoke \$_action acmewan.service/,
  );
  assert.match(
    s.prerm,
    /"\$1" = remove \] && \[ -d \/run\/systemd\/system \][\s\S]*deb-systemd-invoke stop acmewan.service/,
  );
  assert.match(s.postrm, /"\$1" = "purge"[\s\S]*rm -rf \/var\/lib\/acmewan \/etc\/acmewan\/keys/);
  assert.match(
    s.postrm,
    /"\$1" = "remove"[\s\S]*rm -f \/run\/systemd\/resolved\.conf\.d\/acmewan-dns\.conf[\s\S]*deb-systemd-invoke try-restart systemd-resolved\.service/,
  );
  assert.throws(() => maintainerScripts(info({ serviceName: 'a b' })), /unsafe name/);
});

test('debian + raspbian: packages, suites without collisions, signatures verify, artifacts', async () => {
  const inp = await inputs();
  const arts = [...(await debianTarget.build(inp)), ...(await raspbianTarget.build(inp))];
  const apt = join(inp.outDir, 'apt');
  assert.deepEqual(
    arts.map(
      (a) => `${a.type} ${a.path} ${a.arch ?? ''} ${a.platform ?? a.platforms?.join('+')} ${a.target}`,
    ),
    [
      'deb apt/pool/bookworm/acmewan_1.2.0-1_amd64.deb x64 amd64 debian',
      'deb apt/pool/bookworm/acmewan_1.2.0-1_arm64.deb arm64 arm64 debian',
      'apt-repo apt/dists/bookworm  amd64+arm64 debian',
      'deb apt/pool/rpi/acmewan_1.2.0-1_arm64.deb arm64 arm64 raspbian',
      'deb apt/pool/rpi/acmewan_1.2.0-1_all.deb noarch all raspbian',
      'apt-repo apt/dists/rpi  arm64+armhf raspbian',
    ],
  );
  const pkgs = (suite: string, arch: string) =>
    parseControl(readFileSync(join(apt, `dists/${suite}/main/binary-${arch}/Packages`), 'utf8'));
  assert.deepEqual(
    pkgs('rpi', 'armhf').map((p) => [p.Architecture, p.Depends, p.Filename]),
    [['all', 'adduser, nodejs (>= 18)', 'pool/rpi/acmewan_1.2.0-1_all.deb']],
  );
  assert.deepEqual(
    pkgs('rpi', 'arm64').map((p) => p.Architecture),
    ['arm64'],
    'an arm64 Pi sees one candidate',
  );
  assert.deepEqual(
    pkgs('bookworm', 'amd64').map((p) => p.Filename),
    ['pool/bookworm/acmewan_1.2.0-1_amd64.deb'],
  );

  const key = await openpgp.readKey({ binaryKey: readFileSync(join(apt, 'acmewan-archive-keyring.gpg')) });
  for (const suite of ['bookworm', 'rpi']) {
    const inRelease = readFileSync(join(apt, `dists/${suite}/InRelease`), 'utf8');
    const msg = await openpgp.readCleartextMessage({ cleartextMessage: inRelease });
    const v = await openpgp.verify({ message: msg, verificationKeys: key, expectSigned: true });
    const release = readFileSync(join(apt, `dists/${suite}/Release`), 'utf8');
    assert.equal(`${v.data.trimEnd()}\n`, release);
    assert.match(release, /^Date: Thu, 01 Jan 2026 00:00:00 UTC$/m);
    assert.equal(
      (await v.signatures[0].signature).packets[0].created?.getTime(),
      Date.parse('2026-01-01T00:00:00Z'),
    );
  }
  const all = await inspectDeb(join(inp.outDir, arts[4].path));
  assert.equal(all.controlFiles.conffiles, '/etc/acmewan/acmewan.json\n');
  assert.ok(all.data.some((e) => e.path === 'usr/lib/acmewan/acmewan.cjs'));
  assert.match(
    readFileSync(join(apt, 'acmewan-rpi.sources'), 'utf8'),
    /^Signed-By: \/usr\/share\/keyrings\/acmewan-archive-keyring.gpg$/m,
  );

  // our suite reader (edgewan-build inspect) verifies what apt verifies, and sees tampering
  const suite = await inspectAptSuite(join(apt, 'dists/rpi'));
  assert.equal(suite.allVerified, true, JSON.stringify(suite));
  assert.deepEqual(
    suite.packages.map((p) => `${p.index} ${p.architecture}`),
    ['main/binary-arm64/Packages arm64', 'main/binary-armhf/Packages all'],
  );
  const allDeb = join(inp.outDir, arts[4].path);
  const good = readFileSync(allDeb);
  writeFileSync(allDeb, Buffer.concat([good, Buffer.from('x')]));
  assert.equal(
    (await inspectAptSuite(join(apt, 'dists/rpi'))).allVerified,
    false,
    'a changed pool file is seen',
  );
  writeFileSync(allDeb, good);

  // rebuilding gives the same bytes (deterministic signatures) and drops stale pool files
  const again = await inputs({ outDir: inp.outDir, cacheDir: inp.cacheDir });
  const arts2 = [...(await debianTarget.build(again)), ...(await raspbianTarget.build(again))];
  assert.deepEqual(arts2, arts);
  assert.deepEqual(readdirSync(join(apt, 'pool/rpi')).sort(), [
    'acmewan_1.2.0-1_all.deb',
    'acmewan_1.2.0-1_arm64.deb',
  ]);
});

test('unit heap flags equal the engine re-exec flags (old space + young generation) for any memoryMax', () => {
  for (const mib of [32, 48, 64, 96, 128, 200, 256, 512, 1024, 4096]) {
    const bytes = mib * 1024 * 1024;
    assert.equal(heapFlags(bytes), engineHeapFlags(heapCapMiB(bytes)), `memoryMax ${mib} MiB`);
    assert.ok(
      renderUnit(info({ memoryMaxBytes: bytes })).includes(
        `Environment="NODE_OPTIONS=${engineHeapFlags(heapCapMiB(bytes))}"\n`,
      ),
    );
  }
});

test('the systemd-resolved hook ships in every package, executable, not a conffile', async () => {
  const inp = await inputs({}, info({ defaultConfig: { role: 'edge', dns: { enabled: true } } }));
  const arts = [...(await debianTarget.build(inp)), ...(await raspbianTarget.build(inp))];
  for (const a of arts.filter((x) => x.type === 'deb')) {
    const d = await readDeb(join(inp.outDir, a.path), (p) => p.endsWith('resolved-dns'));
    assert.equal(
      d.inspection.controlFiles.conffiles,
      '/etc/acmewan/acmewan.json\n',
      `${a.path}: only the config is a conffile`,
    );
    const hook = d.dataFiles.find((e) => e.path === 'usr/lib/acmewan/resolved-dns');
    assert.equal(hook?.mode, 0o755, `${a.path}: hook executable`);
    assert.match(hook?.data?.toString() ?? '', /^#!\/bin\/sh\n/);
    assert.ok(
      !d.inspection.data.some((e) => e.path.startsWith('etc/systemd')),
      `${a.path}: nothing in /etc/systemd`,
    );
  }
});

test('interception: stop hook and inactive capability drop-in ship in every package; unit runs the hook after stop', async () => {
  const inp = await inputs();
  const arts = [...(await debianTarget.build(inp)), ...(await raspbianTarget.build(inp))];
  for (const a of arts.filter((x) => x.type === 'deb')) {
    const d = await readDeb(join(inp.outDir, a.path), (p) => /intercept|\.service$/.test(p));
    assert.equal(
      d.inspection.controlFiles.conffiles,
      '/etc/acmewan/acmewan.json\n',
      `${a.path}: only the config is a conffile`,
    );
    const hook = d.dataFiles.find((e) => e.path === 'usr/lib/acmewan/intercept-table');
    assert.equal(hook?.mode, 0o755, `${a.path}: hook executable`);
    assert.match(
      hook?.data?.toString() ?? '',
      /^#!\/bin\/sh\n[\s\S]*\/usr\/bin\/acmewan print-config \/etc\/acmewan\/acmewan\.json/,
    );
    const drop = d.dataFiles.find((e) => e.path === 'usr/lib/acmewan/systemd/intercept.conf');
    assert.equal(drop?.mode, 0o644, `${a.path}: drop-in shipped`);
    assert.match(drop?.data?.toString() ?? '', /^AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_ADMIN$/m);
    assert.match(drop?.data?.toString() ?? '', /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_ADMIN$/m);
    const unit =
      d.dataFiles.find((e) => e.path === 'lib/systemd/system/acmewan.service')?.data?.toString() ?? '';
    assert.match(unit, /^ExecStopPost=-\+\/usr\/lib\/acmewan\/intercept-table stop$/m);
    assert.match(
      unit,
      /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m,
      'CAP_NET_ADMIN only through the drop-in',
    );
    assert.ok(
      !d.inspection.data.some(
        (e) => e.path.startsWith('etc/systemd') || e.path.startsWith('lib/systemd/system/acmewan.service.d'),
      ),
      `${a.path}: the drop-in is not active as shipped`,
    );
  }
  // the renderer without the option (another package kind reusing it) has no such line
  assert.doesNotMatch(renderUnit(info()), /intercept/);
  const s = maintainerScripts(info());
  assert.match(
    s.prerm,
    /deb-systemd-invoke stop acmewan\.service[^\n]*\n[^\n]*\n\t\/usr\/lib\/acmewan\/intercept-table remove/,
  );
  assert.match(
    s.postrm,
    /# intercept table: begin[\s\S]*\[ -d \/run\/systemd\/system \][\s\S]*delete table inet edgewan[\s\S]*# intercept table: end/,
  );
  assert.match(s.postrm, /rm -f \/etc\/systemd\/system\/acmewan\.service\.d\/intercept\.conf/);
});

test('reload really signals: the unit sends SIGHUP to the main process', () => {
  assert.match(renderUnit(info()), /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
});

test('bad input fails in validate, before anything is written', async () => {
  const cases: Array<[string, Awaited<ReturnType<typeof inputs>>, RegExp]> = [
    [
      'unmappable version',
      await inputs({}, info({ versions: { ...info().versions, deb: '1.2.0_nightly-1' } })),
      /not a valid Debian version/,
    ],
    ['unknown arch', await inputs({ executables: { mips: '/x' } as never }), /unknown architecture "mips"/],
    [
      'missing executable',
      await inputs({ executables: { x64: '/nonexistent/edgewan-linux-x64' } }),
      /\/nonexistent\/edgewan-linux-x64 \(the x64 executable for the debian amd64 package\) does not exist/,
    ],
    [
      'no executable for the target',
      await inputs({ executables: {} }),
      /this build made none: add --arch x64/,
    ],
    ['missing key', await inputs({ keys: {} }), /no armored OpenPGP private key/],
    [
      'bad maintainer',
      await inputs({}, info({ maintainer: 'nobody' })),
      /must look like "Full Name <user@example.org>"/,
    ],
    ['bad package name', await inputs({}, info({ name: 'Acme WAN' })), /not a valid Debian package name/],
  ];
  for (const [what, inp, re] of cases) {
    assert.throws(() => debianTarget.validate(inp), re, what);
    assert.ok(!existsSync(inp.outDir), `${what}: nothing written`);
  }
  const noBundle = await inputs({ bundle: '/nonexistent/edgewan.cjs' });
  assert.throws(
    () => raspbianTarget.validate(noBundle),
    /\/nonexistent\/edgewan.cjs \(the bundle for the raspbian "all" package\) does not exist/,
  );
});
