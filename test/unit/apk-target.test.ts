// The openwrt-25.12 target end to end on small stand-in executables: one signed package per
// default OpenWRT arch name with the ipk's payload, a signed packages.adb per arch, the key
// and customfeeds.list; byte-identical rebuilds; bad input refused before any write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARCHES, type Arch } from '../../targets/arch.ts';
import { mapVersion } from '../../targets/version.ts';
import type { BuildInputs } from '../../targets/target.ts';
import { openwrtPayload } from '../../targets/formats/openwrt/files.ts';
import { apkTarget, buildOpenwrtApk, type ApkBuildOptions } from '../../targets/openwrt-25.12/index.ts';
import { inspectApk } from '../../targets/openwrt-25.12/inspect.ts';
import { apkFileContents, decodeApk } from '../../targets/formats/adb-decode.ts';

const pem = (type: 'ec' | 'ed25519') =>
  (type === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('ed25519')
  ).privateKey
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
const KEY = pem('ec');

function inputs(root: string, over: Partial<BuildInputs> = {}): BuildInputs {
  const exes: Partial<Record<Arch, string>> = {};
  const glibc: Partial<Record<Arch, string>> = {};
  for (const arch of ['x64', 'arm64'] as Arch[]) {
    exes[arch] = join(root, `exe-${arch}`);
    writeFileSync(exes[arch]!, `stand-in ${arch} executable`);
    glibc[arch] = join(root, `glibc-${arch}`);
    mkdirSync(glibc[arch]!, { recursive: true });
    writeFileSync(join(glibc[arch]!, ARCHES[arch].loader), 'loader');
    writeFileSync(join(glibc[arch]!, 'libc.so.6'), 'libc');
  }
  return {
    info: {
      name: 'edgewan',
      serviceName: 'edgewan',
      vendor: 'Edge',
      maintainer: 'Edge <ops@example.com>',
      homepage: 'https://example.com',
      description: 'WAN optimization',
      license: 'Apache-2.0',
      versions: mapVersion('1.2.0-rc.1'),
      memoryMaxBytes: 128 * 1048576,
      defaultConfig: { role: 'edge' },
    },
    mtime: 1_700_000_000,
    outDir: join(root, 'dist'),
    executables: exes,
    glibc,
    bundle: '',
    licenses: '',
    sboms: {},
    cacheDir: join(root, 'cache'),
    keys: { apkPrivatePem: KEY },
    log: () => {},
    ...over,
  };
}

// The shared payload, with the executable given instead of patched by patchelf.
const opts: ApkBuildOptions = {
  payload: (i, arch) => openwrtPayload(i, { arch }, readFileSync(i.executables[arch]!)),
};

test('writes one signed apk per OpenWRT arch name and a signed index per arch, same payload as the ipk', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ewH-apkt-'));
  try {
    const inp = inputs(root);
    const arts = await buildOpenwrtApk(inp, opts);
    const names = [...ARCHES.x64.openwrt, ...ARCHES.arm64.openwrt];
    assert.deepEqual(
      arts
        .filter((a) => a.type === 'apk')
        .map((a) => a.platform)
        .sort(),
      [...names].sort(),
    );
    const base = join(inp.outDir, 'openwrt/25.12');
    const pub = readFileSync(join(base, 'edgewan.pem'), 'utf8');
    assert.match(
      readFileSync(join(base, 'customfeeds.list'), 'utf8'),
      /# BASE\/aarch64_cortex-a53\/packages\.adb/,
    );
    for (const owrt of names) {
      const arch = owrt === 'x86_64' ? 'x64' : 'arm64';
      const file = readFileSync(join(base, owrt, 'edgewan-1.2.0_rc1-r1.apk'));
      const art = arts.find((a) => a.type === 'apk' && a.platform === owrt)!;
      assert.equal(art.sha256, createHash('sha256').update(file).digest('hex'));
      assert.equal(art.arch, arch);
      const d = decodeApk(file, pub);
      const info = d.root.info as Record<string, unknown>;
      assert.deepEqual(
        [info.name, info.version, info.arch, info.license],
        ['edgewan', '1.2.0_rc1-r1', owrt, 'Apache-2.0'],
      );
      assert.equal(d.signatures[0].verified, true);
      assert.deepEqual(Object.keys(d.root.scripts as object).sort(), [
        'post-install',
        'post-upgrade',
        'pre-deinstall',
      ]);
      // The scripts OpenWRT 25.12's include/package-pack.mk (USE_APK) writes, byte for byte.
      const postInstall =
        '#!/bin/sh\n[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n' +
        '. ${IPKG_INSTROOT}/lib/functions.sh\nexport root="${IPKG_INSTROOT}"\nexport pkgname="edgewan"\nadd_group_and_user\ndefault_postinst\n';
      assert.deepEqual(d.root.scripts, {
        'post-install': postInstall,
        // "#!/bin/sh", the export, the post-install without its "#!" line: one shebang only.
        'post-upgrade': `#!/bin/sh\nexport PKG_UPGRADE=1\n${postInstall.replace('#!/bin/sh\n', '')}`,
        'pre-deinstall':
          '#!/bin/sh\n[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n. ${IPKG_INSTROOT}/lib/functions.sh\n' +
          'export root="${IPKG_INSTROOT}"\nexport pkgname="edgewan"\ndefault_prerm\n',
      });
      // Same payload as the ipk (files.ts), plus OpenWRT's lib/apk/packages metadata.
      const payload = opts.payload!(inp, arch);
      const contents = apkFileContents(file);
      for (const f of payload.files) {
        if (f.type === 'file') assert.deepEqual(contents.get(f.path), f.data, f.path);
        const got = d.files!.find((x) => x.path === f.path);
        assert.ok(got, `${f.path} in the apk`);
        if (f.type === 'file') assert.equal(got.mode, f.mode, `${f.path} mode`);
      }
      // .list: every file and symlink of the package and .rusers, sorted; not .list itself,
      // not the conffiles files (package-pack.mk writes it via a temporary file, before them).
      const list = contents.get('lib/apk/packages/edgewan.list')!.toString();
      const listed = [
        ...payload.files.filter((f) => f.type !== 'dir').map((f) => `/${f.path}`),
        '/lib/apk/packages/edgewan.rusers',
      ].sort();
      assert.equal(list, listed.map((l) => `${l}\n`).join(''));
      assert.ok(!list.includes('edgewan.list') && !list.includes('conffiles'));
      // installed-size: the plain sum of the file bytes the package carries (apk mkpkg).
      const bytes = [...contents.values()].reduce((n, b) => n + b.length, 0);
      assert.equal((d.root.info as Record<string, unknown>)['installed-size'], bytes);
      assert.equal(contents.get('lib/apk/packages/edgewan.conffiles')!.toString(), '/etc/config/edgewan\n');
      const uci = contents.get('etc/config/edgewan')!;
      assert.equal(
        contents.get('lib/apk/packages/edgewan.conffiles_static')!.toString(),
        `/etc/config/edgewan ${createHash('sha256').update(uci).digest('hex')}\n`,
      );
      assert.equal(contents.get('lib/apk/packages/edgewan.rusers')!.toString(), 'edgewan:edgewan\n');
      const ndx = decodeApk(readFileSync(join(base, owrt, 'packages.adb')), pub);
      const pkgs = ndx.root.packages as Record<string, unknown>[];
      assert.equal(ndx.signatures[0].verified, true);
      assert.deepEqual(
        [pkgs.length, pkgs[0].hashes, pkgs[0]['file-size'], pkgs[0]['installed-size']],
        [1, d.adbSha256, file.length, bytes],
      );
    }
    const feed = (await inspectApk(join(base, 'x86_64'))) as {
      index: { signatures: { verified: boolean }[] };
      packages: { signatures: { verified: boolean }[] }[];
    };
    assert.equal(feed.index.signatures[0].verified, true);
    assert.equal(feed.packages[0].signatures[0].verified, true);
    // Rebuild into another directory: byte-identical (RFC 6979 nonces, fixed mtime).
    const again = await buildOpenwrtApk({ ...inp, outDir: join(root, 'dist2') }, opts);
    assert.deepEqual(
      again.map((a) => a.sha256),
      arts.map((a) => a.sha256),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a bad version, an unknown arch name, a wrong key type fail before anything is written', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ewH-apkb-'));
  try {
    const inp = inputs(root);
    const nothingWritten = () => assert.ok(!existsSync(inp.outDir) || readdirSync(inp.outDir).length === 0);
    await assert.rejects(
      buildOpenwrtApk(
        { ...inp, info: { ...inp.info, versions: { ...inp.info.versions, apk: '1.2.0-nightly.3' } } },
        opts,
      ),
      /not an apk version/,
    );
    nothingWritten();
    await assert.rejects(
      buildOpenwrtApk(inp, { ...opts, openwrtArches: ['mips_24kc'] }),
      /unknown OpenWRT arch name "mips_24kc"/,
    );
    await assert.rejects(
      buildOpenwrtApk(inp, { ...opts, openwrtArches: ['arm_cortex-a7_neon-vfpv4'] }),
      /needs the armv7 executable/,
    );
    nothingWritten();
    assert.throws(
      () => apkTarget.validate({ ...inp, keys: { apkPrivatePem: pem('ed25519') } }),
      /ed25519, but .* P-256/,
    );
    assert.throws(() => apkTarget.validate({ ...inp, keys: {} }), /no APK signing key/);
    assert.throws(() => apkTarget.validate({ ...inp, glibc: {} }), /private glibc set/);
    nothingWritten();
    const only = await buildOpenwrtApk(inp, { ...opts, openwrtArches: ['aarch64_cortex-a53'] });
    assert.deepEqual(
      only.map((a) => a.path),
      ['openwrt/25.12/aarch64_cortex-a53/edgewan-1.2.0_rc1-r1.apk', 'openwrt/25.12/aarch64_cortex-a53'],
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
