// The tunnel in the shipped engine: two real processes (core and edge) from `keygen` on,
// an edge port forward to an echo target behind the core, byte-exact transfers, dedup shown
// in /metrics, kill -9 of the core mid-transfer (the client sees a failure, never a clean
// short or corrupt stream), and the core's disk cache still serving after the restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, tunnelKeys, startEngine, type RunningEngine } from '../helpers/engine.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function corpus(n: number): Buffer {
  const parts: Buffer[] = [];
  let len = 0;
  let i = 0;
  while (len < n) {
    const p =
      i % 3 === 2
        ? randomBytes(50_000)
        : Buffer.from(`line ${i} status=${i % 7} path=/srv/items/${i % 113} user=u${i % 17}\n`.repeat(400));
    parts.push(p);
    len += p.length;
    i++;
  }
  return Buffer.concat(parts).subarray(0, n);
}

async function echo(): Promise<{ port: number; close(): void }> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => {
      for (const s of socks) s.destroy();
      srv.close();
    },
  };
}

/** Push data through the forward; resolves with what came back and whether it ended cleanly. */
function transfer(
  port: number,
  data: Buffer,
  onProgress?: (n: number) => void,
): Promise<{ bytes: Buffer; clean: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let n = 0;
    let clean = false;
    s.on('data', (d) => {
      got.push(d);
      n += d.length;
      onProgress?.(n);
    });
    s.on('end', () => {
      clean = true;
    });
    s.on('error', () => {});
    s.on('close', () => resolve({ bytes: Buffer.concat(got), clean }));
    s.setTimeout(60_000, () => s.destroy()); // a stuck transfer fails the test instead of hanging it
    s.end(data);
  });
}

async function metric(e: RunningEngine, name: string, label: string): Promise<number> {
  const body = (await e.get('/metrics')).body;
  const m = new RegExp(`^edgewan_${name}\\{[^}]*${label}[^}]*\\} (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : NaN;
}

test(
  'edge and core processes: forward, dedup, kill -9 mid-transfer, disk cache after restart',
  { timeout: 240_000 },
  async () => {
    const keys = tunnelKeys('ewC-it-');
    const target = await echo();
    const tunPort = await freePort();
    const fwdPort = await freePort();
    const coreState = mkdtempSync(join(tmpdir(), 'ewC-core-'));
    const coreCfg = {
      role: 'core',
      stateDir: coreState,
      tunnel: { listen: `127.0.0.1:${tunPort}`, auth: { keyDir: keys } },
    };
    // A heap flag in NODE_OPTIONS: no re-exec, so kill -9 hits the process that runs the tunnel.
    const env = { NODE_OPTIONS: '--max-old-space-size=64' };
    let core = await startEngine({ config: coreCfg, env });
    const edge = await startEngine({
      env,
      config: {
        role: 'edge',
        tunnel: { connect: `127.0.0.1:${tunPort}`, auth: { keyDir: keys } },
        forwards: [{ listen: `127.0.0.1:${fwdPort}`, target: `127.0.0.1:${target.port}` }],
      },
    });
    try {
      const data = corpus(8 << 20);
      let r: { bytes: Buffer; clean: boolean } = { bytes: Buffer.alloc(0), clean: false };
      for (let i = 0; i < 100 && !r.clean; i++) {
        r = await transfer(fwdPort, data.subarray(0, 1000));
        if (!r.clean) await new Promise((x) => setTimeout(x, 200));
      }
      r = await transfer(fwdPort, data);
      assert.ok(r.clean);
      assert.equal(sha(r.bytes), sha(data));
      const rx1 = await metric(core, 'tunnel_link_bytes_total', 'direction="rx"');
      r = await transfer(fwdPort, data);
      assert.equal(sha(r.bytes), sha(data));
      const rx2 = await metric(core, 'tunnel_link_bytes_total', 'direction="rx"');
      assert.ok(rx2 - rx1 < data.length * 0.02, `repeat cost ${rx2 - rx1} link bytes for ${data.length}`);
      assert.ok((await metric(edge, 'tunnel_chunks_total', 'result="hit"')) > 0);

      // kill -9 the core in the middle of a big transfer
      const big = Buffer.concat([randomBytes(48 << 20), data]);
      const cut = await transfer(fwdPort, big, (n) => {
        if (n > 256 << 10 && core.proc.exitCode === null) core.proc.kill('SIGKILL');
      });
      // Whatever arrived is exact: either everything (it had all crossed before the kill) with
      // a clean end, or an exact prefix ended by a reset, never a clean end of a short stream.
      if (cut.clean) assert.equal(sha(cut.bytes), sha(big), 'a clean end must mean every byte arrived');
      else
        assert.ok(
          cut.bytes.length < big.length && big.subarray(0, cut.bytes.length).equals(cut.bytes),
          'what arrived is an exact prefix',
        );
      await core.exited;

      // restart the core on the same state dir: the edge reconnects, the disk cache serves
      core = await startEngine({ config: coreCfg, env });
      r = { bytes: Buffer.alloc(0), clean: false };
      for (let i = 0; i < 100 && !r.clean; i++) {
        r = await transfer(fwdPort, data.subarray(0, 1000));
        if (!r.clean) await new Promise((x) => setTimeout(x, 200));
      }
      const rx3 = await metric(core, 'tunnel_link_bytes_total', 'direction="rx"');
      r = await transfer(fwdPort, data);
      assert.equal(sha(r.bytes), sha(data));
      const rx4 = await metric(core, 'tunnel_link_bytes_total', 'direction="rx"');
      assert.ok(rx4 - rx3 < data.length * 0.05, `after restart the repeat cost ${rx4 - rx3} link bytes`);
    } finally {
      target.close();
      await edge.stop();
      await core.stop();
    }
  },
);
