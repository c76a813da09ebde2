// The image run by podman + runc (docs/platform-notes.md §4 configuration, per-run storage): each platform
// pulled from the oci-archive with --platform and each docker-archive loaded with
// `podman load` starts, passes `edgewan healthcheck`, runs as uid 10001 and exits 0 on
// `podman stop`. On amd64 also: --memory 96m shows in /status (limit and heap cap = ½),
// --read-only with the state volume and a tmpfs, and a restart from the same volume.
// arm platforms run under qemu-user (binfmt), so runs are kept to one per import path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needRoot, needTool } from '../helpers/tools.ts';
import { mustRun, mustRunAsync, ociArtifacts, podmanEnv, run } from '../helpers/oci.ts';
import { spawn } from 'node:child_process';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'oci-podman-'));
const env = podmanEnv(dir);
const podman = (...args: string[]) => mustRun('podman', args, env).trim();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `podman exec … edgewan healthcheck` until it exits 0; returns ms since `since`. */
async function waitHealthy(ctr: string, since: number, timeoutMs = 60_000): Promise<number> {
  for (;;) {
    if (run('podman', ['exec', ctr, '/usr/bin/edgewan', 'healthcheck'], env).code === 0)
      return Date.now() - since;
    const state = podman('inspect', '-f', '{{.State.Status}}', ctr);
    if (state !== 'running' || Date.now() - since > timeoutMs) {
      throw new Error(
        `${ctr} not healthy (state ${state}); logs:\n${run('podman', ['logs', ctr], env).stderr.slice(-3000)}${run('podman', ['logs', ctr], env).stdout.slice(-3000)}`,
      );
    }
    await sleep(100);
  }
}

function uidOf(ctr: string): number {
  const pid = podman('inspect', '-f', '{{.State.Pid}}', ctr);
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

/** GET a path of the admin endpoint from inside the container's network namespace (no curl in the image). */
function adminGet(ctr: string, path: string): string {
  const pid = podman('inspect', '-f', '{{.State.Pid}}', ctr);
  return mustRun('nsenter', [
    '-t',
    pid,
    '-n',
    process.execPath,
    '-e',
    `fetch('http://127.0.0.1:9617${path}').then(async (r) => { process.stdout.write(await r.text()); process.exitCode = r.ok ? 0 : 1; })`,
  ]);
}

/** Mount point → mount options of the container's init process (from the host's /proc). */
function mountOptions(ctr: string): Record<string, string> {
  const pid = podman('inspect', '-f', '{{.State.Pid}}', ctr);
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length > 5) out[f[4]] = f[5];
  }
  return out;
}

function stopExitCode(ctr: string): number {
  podman('stop', '-t', '15', ctr);
  return Number(podman('inspect', '-f', '{{.State.ExitCode}}', ctr));
}

const tools = (t: import('node:test').TestContext) =>
  needRoot(t) && needTool(t, 'podman') && needTool(t, 'runc') && needTool(t, 'nsenter', 'util-linux');

test.after(() => {
  run('podman', ['rm', '-a', '-f', '-t', '0'], env);
  run('podman', ['volume', 'prune', '-f'], env);
  run('podman', ['rmi', '-a', '-f'], env);
  rmSync(dir, { recursive: true, force: true });
});

test('oci podman: amd64 from the oci-archive — healthy, non-root, 96m limit, read-only, restart, exit 0', async (t) => {
  if (!tools(t)) return;
  const a = ociArtifacts();
  const id = podman('pull', '-q', '--platform', 'linux/amd64', `oci-archive:${a.archive}`).split('\n').pop()!;
  podman('volume', 'create', 'ew-state');
  const t0 = Date.now();
  podman(
    'run',
    '-d',
    '--name',
    'ew-amd64',
    '--pull',
    'never',
    '--memory',
    '96m',
    '--read-only',
    '--tmpfs',
    '/tmp',
    '-v',
    'ew-state:/var/lib/edgewan',
    id,
  );
  const ms = await waitHealthy('ew-amd64', t0);
  t.diagnostic(`amd64 start to healthy: ${ms} ms`);
  assert.equal(uidOf('ew-amd64'), 10001);
  const status = JSON.parse(adminGet('ew-amd64', '/status')) as {
    memory: { limitBytes: number; heapCapBytes: number; limitSource: string };
  };
  assert.equal(status.memory.limitBytes, 96 * MiB);
  assert.equal(status.memory.heapCapBytes, 48 * MiB, 'heap cap = ⌊0.5 × limit⌋ MiB');
  assert.match(status.memory.limitSource, /^cgroup/);
  const mounts = mountOptions('ew-amd64');
  assert.match(mounts['/'] ?? '', /(^|,)ro(,|$)/, 'the root file system is read-only');
  assert.match(mounts['/var/lib/edgewan'] ?? '', /(^|,)rw(,|$)/, 'the state volume is writable');
  assert.match(mounts['/tmp'] ?? '', /(^|,)rw(,|$)/, '/tmp is a writable tmpfs');
  assert.equal(stopExitCode('ew-amd64'), 0);
  const t1 = Date.now();
  podman('start', 'ew-amd64');
  await waitHealthy('ew-amd64', t1);
  assert.equal(stopExitCode('ew-amd64'), 0, 'restarted container stops cleanly too');
});

test('oci podman: under --memory 96m a bounded DNS load (10⁵ distinct names) ends without an OOM kill', async (t) => {
  if (!tools(t) || !needTool(t, 'dnsperf') || !needTool(t, 'dnsmasq', 'dnsmasq-base')) return;
  const a = ociArtifacts();
  const id = podman('pull', '-q', '--platform', 'linux/amd64', `oci-archive:${a.archive}`).split('\n').pop()!;
  // The shipped config with DNS on, forwarding to a dnsmasq inside the container's network
  // namespace that answers every *.load.test name, so each query fills a new cache entry.
  const cfg = join(dir, 'dns-load.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      role: 'edge',
      stateDir: '/var/lib/edgewan',
      memory: { limit: 'auto' },
      admin: { listen: '127.0.0.1:9617' },
      dns: { enabled: true, listen: ['127.0.0.1:5353'], upstreams: ['127.0.0.1:5354'] },
    }),
  );
  const queries = join(dir, 'names.txt');
  writeFileSync(queries, Array.from({ length: 100_000 }, (_, i) => `n${i}.load.test A\n`).join(''));
  podman(
    'run',
    '-d',
    '--name',
    'ew-load',
    '--pull',
    'never',
    '--memory',
    '96m',
    '--read-only',
    '--tmpfs',
    '/tmp',
    '-v',
    `${cfg}:/etc/edgewan/edgewan.json:ro`,
    id,
  );
  await waitHealthy('ew-load', Date.now());
  const pid = podman('inspect', '-f', '{{.State.Pid}}', 'ew-load');
  const dnsmasq = spawn(
    'nsenter',
    [
      '-t',
      pid,
      '-n',
      'dnsmasq',
      '--keep-in-foreground',
      '-p',
      '5354',
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      '--address=/load.test/10.1.2.3',
      '-c',
      '0',
    ],
    { stdio: 'ignore' },
  );
  try {
    await sleep(500);
    const out = await mustRunAsync('nsenter', [
      '-t',
      pid,
      '-n',
      'dnsperf',
      '-s',
      '127.0.0.1',
      '-p',
      '5353',
      '-d',
      queries,
      '-n',
      '1',
      '-l',
      '120',
      '-q',
      '200',
    ]);
    const done = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? 0);
    t.diagnostic(
      `dnsperf: ${done} of 100000 answered; ${/Queries per second:\s+([\d.]+)/.exec(out)?.[1]} QPS`,
    );
    assert.ok(done >= 99_000, `most queries answered:\n${out}`);
    assert.equal(
      podman('inspect', '-f', '{{.State.Status}} {{.State.OOMKilled}}', 'ew-load'),
      'running false',
    );
    const mem = JSON.parse(adminGet('ew-load', '/status')).memory as { limitBytes: number; rssBytes: number };
    t.diagnostic(
      `after the load: rss ${(mem.rssBytes / MiB).toFixed(1)} MiB of ${(mem.limitBytes / MiB).toFixed(0)} MiB`,
    );
    assert.equal(stopExitCode('ew-load'), 0, 'no exit 137');
  } finally {
    dnsmasq.kill();
  }
});

for (const platform of ['linux/arm64', 'linux/arm/v7']) {
  test(`oci podman: ${platform} from the oci-archive under qemu — healthy, non-root, exit 0`, async (t) => {
    if (!tools(t)) return;
    const a = ociArtifacts();
    const id = podman('pull', '-q', '--platform', platform, `oci-archive:${a.archive}`).split('\n').pop()!;
    const arch = podman('image', 'inspect', '-f', '{{.Architecture}}', id);
    assert.equal(arch, platform.split('/')[1]);
    const name = `ew-${platform.replace(/\//g, '-')}`;
    const t0 = Date.now();
    podman('run', '-d', '--name', name, '--pull', 'never', '--platform', platform, id);
    t.diagnostic(`${platform} start to healthy: ${await waitHealthy(name, t0, 120_000)} ms`);
    assert.equal(uidOf(name), 10001);
    assert.equal(stopExitCode(name), 0);
  });
}

test("oci podman: every docker-archive loads; amd64 runs healthy by the image's own Healthcheck", async (t) => {
  if (!tools(t)) return;
  const a = ociArtifacts();
  assert.deepEqual(Object.keys(a.docker).sort(), ['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
  for (const [platform, file] of Object.entries(a.docker)) {
    const m = JSON.parse(mustRun('tar', ['-xOf', file, 'manifest.json'])) as {
      Config: string;
      RepoTags: string[];
    }[];
    assert.deepEqual(m[0].RepoTags, [`edgewan:${a.version}`]);
    // podman load rejects duplicate tar paths and wrong diff_ids, so loading is itself a check.
    assert.match(podman('load', '-i', file), /Loaded image/);
    const id = m[0].Config.replace(/\.json$/, '');
    assert.match(podman('image', 'inspect', '-f', '{{.Config.Healthcheck.Test}}', id), /edgewan healthcheck/);
    assert.equal(podman('image', 'inspect', '-f', '{{.Architecture}}', id), platform.split('/')[1]);
    // The arm images share their layers with the oci-archive images run above; running them
    // again under qemu would add minutes and check nothing new.
    if (platform !== 'linux/amd64') continue;
    podman('run', '-d', '--name', 'ew-docker', '--pull', 'never', id);
    const t0 = Date.now();
    while (run('podman', ['healthcheck', 'run', 'ew-docker'], env).code !== 0) {
      assert.ok(
        Date.now() - t0 < 60_000,
        `not healthy: ${run('podman', ['logs', 'ew-docker'], env).stderr.slice(-2000)}`,
      );
      await sleep(200);
    }
    assert.equal(uidOf('ew-docker'), 10001);
    assert.equal(stopExitCode('ew-docker'), 0);
  }
});
