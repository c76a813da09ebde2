// Memory of the shipped engine under many concurrent tunnel streams (issue 4, "rss_peak_MB
// with 1,000 concurrent streams under a memory limit"): an edge and a core process, a port
// forward, and 1,000 client connections pushing data at once to a hash sink behind the core.
// Every stream must arrive byte-exact while each engine runs in its own memory cgroup limited
// to its memory.limit (96 MiB, the figure; what systemd's MemoryMax and `docker -m`
// set): the kernel enforces it and OOM-kills on overrun. With the shipped default split this
// killed the edge before the chunk cache default went from 25 % to 12.5 % of the limit
// (bench:tunnel's rss step, 2026-11-28). The peak anonymous RSS (sampled) must stay under two
// thirds of the limit, which leaves room for the executable's ~40-51 MB of file-backed pages:
// measured 49-51 MiB on the x64 executable (74.7 MiB before local sockets stopped reading
// ahead and the memory split took the runtime's 48 MiB off first; docs/tunnel.md). VmHWM,
// which also counts those shared file pages, is reported (101-103 MiB with a 3 MiB semi-space, 126 before).
// No timing assertions; every socket has a bound (about 15 s of wall time).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { freePort, tunnelKeys, startEngine, type RunningEngine } from '../helpers/engine.ts';
import { heapFlags } from '../../engine/src/memory/reexec.ts';
import { heapCapMiB } from '../../engine/src/memory/policy.ts';
import { memoryCgroup, type MemoryCgroup } from '../helpers/cgroup.ts';
import { needRoot } from '../helpers/tools.ts';

const STREAMS = 1000;
const PER_STREAM = 192 * 1024;
const LIMIT_MIB = 96;
// The heap flags the engine itself would set for this limit (docs/contract.md "Memory
// limit and heap cap"), in NODE_OPTIONS so it does not re-exec and the pid we watch carries the streams.
const NODE_OPTIONS = heapFlags(heapCapMiB(LIMIT_MIB * 1048576));

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** 4 MiB of mixed data: seeded pseudo-random runs (incompressible) and log-like text. */
function corpus(): Buffer {
  const parts: Buffer[] = [];
  let s = 12345;
  let n = 0;
  for (let i = 0; n < 4 << 20; i++) {
    let p: Buffer;
    if (i % 2 === 0) {
      p = Buffer.alloc(40_000);
      for (let k = 0; k < p.length; k++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        p[k] = s >>> 24;
      }
    } else
      p = Buffer.from(
        `ts=${i} level=info path=/srv/items/${i % 97} user=u${i % 13} status=${200 + (i % 5)}\n`.repeat(500),
      );
    parts.push(p);
    n += p.length;
  }
  return Buffer.concat(parts).subarray(0, 4 << 20);
}

async function hashSink(): Promise<{ port: number; close(): void }> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.on('error', () => {});
    const h = createHash('sha256');
    s.on('data', (d) => h.update(d));
    s.on('end', () => s.end(h.digest('hex')));
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

/** Send through the forward, return the sink's answer ('' on failure or after 120 s). */
function send(port: number, data: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      got += d;
    });
    s.on('error', () => {});
    s.on('close', () => resolve(got));
    s.setTimeout(120_000, () => s.destroy());
    s.end(data);
  });
}

function kb(pid: number, field: string): number {
  try {
    return (
      Number(
        new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0,
      ) * 1024
    );
  } catch {
    return 0;
  }
}

test(
  `${STREAMS} concurrent streams through edge and core, each in a ${LIMIT_MIB} MiB memory cgroup: exact bytes, no OOM kill`,
  { timeout: 240_000 },
  async (t) => {
    if (!needRoot(t)) return;
    const keys = tunnelKeys('ewM-mem-');
    const sink = await hashSink();
    const tunPort = await freePort();
    const fwdPort = await freePort();
    const env = { NODE_OPTIONS };
    // The shipped default split: the point is that defaults survive a real limit.
    const memory = { limit: `${LIMIT_MIB}MiB` };
    const engines: RunningEngine[] = [];
    const cgroups: MemoryCgroup[] = [];
    try {
      engines.push(
        await startEngine({
          env,
          config: {
            role: 'core',
            memory,
            tunnel: { listen: `127.0.0.1:${tunPort}`, auth: { keyDir: keys } },
          },
        }),
      );
      engines.push(
        await startEngine({
          env,
          config: {
            role: 'edge',
            memory,
            tunnel: { connect: `127.0.0.1:${tunPort}`, auth: { keyDir: keys } },
            forwards: [{ listen: `127.0.0.1:${fwdPort}`, target: `127.0.0.1:${sink.port}` }],
          },
        }),
      );
      for (const [i, role] of ['core', 'edge'].entries()) {
        const cg = memoryCgroup(`ewtest-tunmem-${role}-${process.pid}`, LIMIT_MIB * 1048576);
        assert.ok(
          cg,
          'cannot create a memory cgroup here (needs root and a writable cgroup v1/v2 memory tree)',
        );
        cg.add(engines[i].proc.pid!); // v1 moves the start-up charge along (move_charge_at_immigrate)
        cgroups.push(cg);
      }
      const data = corpus();
      const probe = data.subarray(0, 1000);
      for (let i = 0; (await send(fwdPort, probe)) !== sha(probe); i++) {
        assert.ok(i < 100, 'the tunnel did not come up');
        await new Promise((r) => setTimeout(r, 200));
      }
      // Peak anonymous memory, sampled (VmHWM below is exact but includes the executable's
      // file-backed pages, which the kernel can drop and re-read under pressure).
      const anon = [0, 0];
      const sampler = setInterval(
        () =>
          engines.forEach((e, i) => {
            anon[i] = Math.max(anon[i], kb(e.proc.pid!, 'RssAnon'));
          }),
        20,
      );
      const inputs = Array.from({ length: STREAMS }, (_, i) =>
        data.subarray((i * 7919) % (data.length - PER_STREAM)).subarray(0, PER_STREAM),
      );
      const answers = await Promise.all(inputs.map((d) => send(fwdPort, d)));
      clearInterval(sampler);
      const kills = cgroups.map((g) => g.oomKills());
      assert.deepEqual(
        kills,
        [0, 0],
        `the kernel OOM-killed an engine in its ${LIMIT_MIB} MiB cgroup (core, edge)`,
      );
      const wrong = answers.filter((a, i) => a !== sha(inputs[i])).length;
      assert.equal(wrong, 0, `${wrong} of ${STREAMS} streams did not deliver their bytes exactly`);
      const limit = LIMIT_MIB * 1048576;
      for (const [i, role] of ['core', 'edge'].entries()) {
        const hwm = kb(engines[i].proc.pid!, 'VmHWM');
        t.diagnostic(
          `${role}: RssAnon peak ${(anon[i] / 1048576).toFixed(1)} MiB, VmHWM ${(hwm / 1048576).toFixed(1)} MiB (with the executable's file pages), cgroup peak charge ${(cgroups[i].peak() / 1048576).toFixed(1)} MiB, limit ${LIMIT_MIB} MiB`,
        );
        assert.ok(anon[i] > 0, `no RssAnon samples for the ${role} process`);
        assert.ok(
          anon[i] < (2 / 3) * limit,
          `${role} peak anonymous RSS ${(anon[i] / 1048576).toFixed(1)} MiB is not under 2/3 of memory.limit ${LIMIT_MIB} MiB`,
        );
      }
    } finally {
      sink.close();
      for (const e of engines) await e.stop();
      for (const g of cgroups) g.remove();
      // each engine's state holds the chunks of ~128 MB of traffic
      for (const d of [...engines.map((e) => e.dir), dirname(keys)])
        rmSync(d, { recursive: true, force: true });
    }
  },
);
