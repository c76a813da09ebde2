// Failover in real processes (issue 16 item 4): an enrolled edge with tunnel.connect listing
// two cores of one fleet links to the first, moves to the second within seconds when the first
// is killed (kill -9), and back to the first once it returns and the link is idle
// (tunnel.failbackS). Every transfer is exact (SHA-256), including repeats of data the other
// core's cache held: each core has its own cache id, so no wrong dedup reference crosses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineCommand, freePort, startEngine, waitFor, type RunningEngine } from '../helpers/engine.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function must(...args: string[]): void {
  const [cmd, ...pre] = engineCommand();
  const r = spawnSync(cmd, [...pre, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `edgewan ${args.join(' ')} failed: ${r.stderr}`);
}

function transfer(port: number, data: Buffer): Promise<{ bytes: Buffer; clean: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let clean = false;
    s.on('data', (d) => got.push(d));
    s.on('end', () => {
      clean = true;
    });
    s.on('error', () => {});
    s.on('close', () => resolve({ bytes: Buffer.concat(got), clean }));
    s.setTimeout(60_000, () => s.destroy());
    s.end(data);
  });
}

async function linkedTo(core: RunningEngine, name: string): Promise<boolean> {
  const st = JSON.parse((await core.get('/status')).body).components.find(
    (c: { name: string }) => c.name === 'tunnel',
  ).status;
  return st.fleet.edges.some((e: { name: string; connected: boolean }) => e.name === name && e.connected);
}

test(
  'fleet failover: the edge moves to the second core when the first dies, and back when it returns',
  { timeout: 240_000 },
  async () => {
    const root = mkdtempSync(join(tmpdir(), 'ewF-fo-'));
    const caDir = join(root, 'ca');
    must('ca', 'init', '--out', caDir);
    must('enroll', 'branch-a', '--ca', caDir, '--out', join(root, 'a'));
    const echoSrv = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => echoSrv.listen(0, '127.0.0.1', r));
    const echoPort = (echoSrv.address() as net.AddressInfo).port;
    const p1 = await freePort();
    const p2 = await freePort();
    const fwd = await freePort();
    const coreCfg = (port: number, state: string) => ({
      role: 'core',
      stateDir: state,
      tunnel: { listen: `127.0.0.1:${port}`, auth: { keyDir: caDir, ca: join(caDir, 'ca.crt') } },
    });
    const s1 = join(root, 'core1-state');
    const env = { NODE_OPTIONS: '--max-old-space-size=64' }; // no re-exec: kill -9 hits the engine itself
    let core1 = await startEngine({ config: coreCfg(p1, s1), env });
    const core2 = await startEngine({ config: coreCfg(p2, join(root, 'core2-state')), env });
    const edge = await startEngine({
      env,
      config: {
        role: 'edge',
        supervisor: { backoffMs: { initial: 100, max: 1000 } },
        tunnel: {
          connect: [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`],
          failbackS: 2,
          auth: { keyDir: join(root, 'a'), ca: join(root, 'a', 'ca.crt') },
        },
        forwards: [{ listen: `127.0.0.1:${fwd}`, target: `127.0.0.1:${echoPort}` }],
      },
    });
    try {
      await waitFor(core1, () => linkedTo(core1, 'branch-a'), 'edge linked to core 1');
      const data = Buffer.concat([randomBytes(1 << 20), Buffer.from('repeat me '.repeat(200_000))]);
      let r = await transfer(fwd, data);
      assert.ok(r.clean);
      assert.equal(sha(r.bytes), sha(data));

      core1.proc.kill('SIGKILL');
      const killedAt = Date.now();
      await core1.exited;
      await waitFor(core2, () => linkedTo(core2, 'branch-a'), 'edge linked to core 2', 20_000);
      const failoverMs = Date.now() - killedAt;
      r = await transfer(fwd, data); // core 2's cache has none of it: literals, exact
      assert.ok(r.clean);
      assert.equal(sha(r.bytes), sha(data));
      r = await transfer(fwd, data); // a repeat deduplicated against core 2
      assert.ok(r.clean);
      assert.equal(sha(r.bytes), sha(data));

      core1 = await startEngine({ config: coreCfg(p1, s1), env });
      const backAt = Date.now();
      await waitFor(core1, () => linkedTo(core1, 'branch-a'), 'edge back on core 1', 30_000);
      const failbackMs = Date.now() - backAt;
      assert.equal(await linkedTo(core2, 'branch-a'), false, 'one link at a time');
      r = await transfer(fwd, data);
      assert.ok(r.clean);
      assert.equal(sha(r.bytes), sha(data));
      const log = edge.output();
      assert.match(log, /"tunnel failing back to the preferred core"/);
      assert.match(log, /"tunnel linked to core".*"core":"127\.0\.0\.1:\d+","preferred":false/);
      const st = JSON.parse((await edge.get('/status')).body).components.find(
        (c: { name: string }) => c.name === 'tunnel',
      ).status;
      assert.equal(st.core, `127.0.0.1:${p1}`);
      process.stdout.write(
        `# measured: failover to core 2 ${failoverMs} ms after kill -9 of core 1; back on core 1 ${failbackMs} ms after it was ready (failbackS 2)\n`,
      );
    } finally {
      echoSrv.close();
      await edge.stop();
      await core2.stop();
      await core1.stop();
      rmSync(root, { recursive: true, force: true });
    }
  },
);
