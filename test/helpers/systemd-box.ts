// A booted Debian box for the .deb acceptance tests (43-deb-resolved, 44-deb-intercept): a
// private copy of the cached bookworm amd64 systemd root (test/helpers/rootfs.ts) with our
// signed apt repo from dist/ as its only source, booted with systemd as PID 1 in podman
// (runc, cgroupfs, no network but loopback unless the caller passes --network;
// docs/platform-notes.md §4). Every command inside is bounded in time.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AMD64_SYSTEMD_ROOT, copyRootfs } from './rootfs.ts';
import { distDir, podmanEnv, run } from './oci.ts';
import { inspectDeb } from '../../targets/formats/deb-inspect.ts';
import type { Artifact } from '../../targets/target.ts';

export interface SystemdBox {
  /** our package's name (the .deb's Package field), also the service's and config's name */
  name: string;
  ctr: string;
  env: NodeJS.ProcessEnv;
  /** a path inside the box's root, as seen from the host */
  R(p: string): string;
  exec(args: string[], timeoutS?: number): { code: number; stdout: string; stderr: string };
  /** exec that must exit 0; returns stdout */
  must(args: string[], timeoutS?: number): string;
  /** the last lines of our service's journal (and of the other units named) */
  journal(...units: string[]): string;
  /** the container's PID 1 on the host (for nsenter) */
  pid(): string;
  /** apt-get update + install of our package from the signed repo */
  install(): void;
  /** our config file, parsed / rewritten as an admin would */
  readConfig(): Record<string, unknown>;
  writeConfig(cfg: Record<string, unknown>): void;
  cleanup(): void;
}

/** Boot the box; podmanArgs go before --rootfs (e.g. --cap-add, --network). */
export async function bootSystemdBox(prefix: string, podmanArgs: string[] = []): Promise<SystemdBox> {
  const DIST = distDir();
  const arts = JSON.parse(readFileSync(join(DIST, 'artifacts.json'), 'utf8')) as Artifact[];
  const deb = arts.find((a) => a.type === 'deb' && a.target === 'debian' && a.platform === 'amd64');
  assert.ok(deb, 'no debian amd64 .deb in dist/artifacts.json (build with --arch x64 --target debian)');
  const name = (await inspectDeb(join(DIST, deb.path))).control.Package;
  const keyring = `/usr/share/keyrings/${name}-archive-keyring.gpg`;
  const root = copyRootfs(AMD64_SYSTEMD_ROOT);
  const work = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const env = podmanEnv(join(work, 'podman'));
  const ctr = `${prefix}-${process.pid}`;
  const R = (p: string) => join(root.dir, p);
  const exec = (args: string[], timeoutS = 60) =>
    run('podman', ['exec', ctr, 'timeout', String(timeoutS), ...args], env);
  const must = (args: string[], timeoutS = 60) => {
    const r = exec(args, timeoutS);
    assert.equal(
      r.code,
      0,
      `${args.join(' ')} failed (exit ${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`,
    );
    return r.stdout;
  };
  const conf = R(`etc/${name}/${name}.json`);
  const box: SystemdBox = {
    name,
    ctr,
    env,
    R,
    exec,
    must,
    journal: (...units) =>
      exec([
        'journalctl',
        '--no-pager',
        '-n',
        '60',
        '-u',
        `${name}.service`,
        ...units.flatMap((u) => ['-u', u]),
      ]).stdout,
    pid: () => run('podman', ['inspect', '-f', '{{.State.Pid}}', ctr], env).stdout.trim(),
    install() {
      must(['apt-get', '-q', 'update'], 120);
      must(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-q', '-y', 'install', name], 180);
    },
    readConfig: () => JSON.parse(readFileSync(conf, 'utf8')) as Record<string, unknown>,
    writeConfig: (cfg) => writeFileSync(conf, `${JSON.stringify(cfg, null, 2)}\n`),
    cleanup() {
      run('podman', ['rm', '-f', '-t', '0', ctr], env);
      root.cleanup();
      rmSync(work, { recursive: true, force: true });
      assert.ok(!existsSync(root.dir), 'root copy removed');
    },
  };
  try {
    writeFileSync(R('etc/apt/sources.list'), `deb [signed-by=${keyring}] file:/srv/repo bookworm main\n`);
    cpSync(join(DIST, 'apt'), R('srv/repo'), { recursive: true });
    cpSync(join(DIST, 'apt', `${name}-archive-keyring.gpg`), R(keyring.slice(1)));
    const boot = run(
      'podman',
      ['run', '-d', '--name', ctr, '--systemd=always', ...podmanArgs, '--rootfs', root.dir, '/sbin/init'],
      env,
    );
    assert.equal(boot.code, 0, `podman run: ${boot.stderr}`);
    // right after `podman run`, systemctl may find no manager yet: retry for up to 90 s
    let state = '';
    for (const until = Date.now() + 90_000; Date.now() < until;) {
      state = exec(['systemctl', 'is-system-running', '--wait'], 90).stdout.trim();
      if (state && state !== 'offline') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.match(
      state,
      /^(running|degraded)$/,
      `systemd did not come up: ${state}\n${exec(['systemctl', '--failed', '--no-pager']).stdout}`,
    );
    return box;
  } catch (e) {
    box.cleanup();
    throw e;
  }
}
