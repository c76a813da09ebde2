// 32-bit Raspberry Pi OS stand-in: the raspbian `all` package (the bundle on the system nodejs)
// installed from the signed `rpi` suite into a Debian bookworm armhf root with Debian's nodejs
// 18, run under qemu-user pinned to a Cortex-A7 (QEMU_CPU, docs/platform-notes.md §7: qemu's
// default CPU would hide missing instructions). ARMv6 (Pi Zero/1) cannot be emulated with
// Debian's ARMv7 userland (docs/platform-notes.md §7), so that case stays untested; the package
// holds no native code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { needRoot, needTool } from '../helpers/tools.ts';
import { ARMHF_NODE_ROOT, copyRootfs, type RootCopy } from '../helpers/rootfs.ts';
import { inspectDeb } from '../../targets/formats/deb-inspect.ts';
import type { Artifact } from '../../targets/target.ts';

const DIST = process.env.EDGEWAN_TEST_DIST ?? join(import.meta.dirname, '..', '..', 'dist');
const ENV = { QEMU_CPU: 'cortex-a7' };

function must(r: ReturnType<RootCopy['chroot']>, what: string): string {
  assert.equal(
    r.status,
    0,
    `${what} failed (exit ${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`,
  );
  return r.stdout;
}

test(
  "raspbian `all` package: installs from the rpi suite and runs on Debian's nodejs 18 (armhf, Cortex-A7)",
  { timeout: 30 * 60_000 },
  async (t) => {
    if (!needRoot(t) || !needTool(t, 'mmdebstrap') || !needTool(t, 'qemu-arm-static', 'qemu-user-static'))
      return;
    const arts = JSON.parse(readFileSync(join(DIST, 'artifacts.json'), 'utf8')) as Artifact[];
    const deb = arts.find((a) => a.type === 'deb' && a.target === 'raspbian' && a.platform === 'all');
    assert.ok(deb, 'no raspbian `all` .deb in dist/artifacts.json');
    const d = await inspectDeb(join(DIST, deb.path));
    const name = d.control.Package;
    const semver = d.control.Version.replace(/-[^-]+$/, '').replace('~', '-');
    const keyring = `/usr/share/keyrings/${name}-archive-keyring.gpg`;
    const root = copyRootfs(ARMHF_NODE_ROOT);
    const R = (p: string) => join(root.dir, p);
    const run = (args: string[]) => root.chroot(args, ENV);
    try {
      writeFileSync(R('etc/apt/sources.list'), `deb [signed-by=${keyring}] file:/srv/repo rpi main\n`);
      mkdirSync(R('srv'), { recursive: true });
      cpSync(join(DIST, 'apt'), R('srv/repo'), { recursive: true });
      writeFileSync(R(keyring), readFileSync(join(DIST, 'apt', `${name}-archive-keyring.gpg`)));
      must(run(['apt-get', '-q', '-y', 'update']), 'apt-get update');
      must(run(['apt-get', '-q', '-y', 'install', name]), 'apt-get install');
      assert.equal(
        must(run(['dpkg-query', '-W', '-f=${Architecture} ${Version}', name]), 'dpkg-query'),
        `all ${d.control.Version}`,
      );
      const node = must(run(['node', '--version']), 'node --version').trim();
      assert.match(node, /^v18\./, "Debian bookworm's nodejs is 18");
      const version = must(run([`/usr/bin/${name}`, '--version']), `${name} --version`);
      assert.ok(version.includes(semver), `--version printed ${version}`);
      assert.match(version, /\barm\b/, 'process.arch of the system node is arm');
      must(
        run([
          'chroot',
          `--userspec=${name}:${name}`,
          '/',
          `/usr/bin/${name}`,
          'check-config',
          `/etc/${name}/${name}.json`,
        ]),
        'check-config as the service user',
      );
      t.diagnostic(`${name} on ${node}: ${version.trim().split('\n')[0]}`);
    } finally {
      root.cleanup();
    }
  },
);
