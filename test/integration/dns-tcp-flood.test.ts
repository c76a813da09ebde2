// One TCP DNS client must not exhaust the engine's memory (issue 22 item 3): it pipelines
// 68,000 queries (~2.2 MB sent) for a ~5.5 KB answer and never reads a reply. Before the TCP
// path bounded its writes this grew RSS from 75 to 636 MB and a 128 MiB cgroup OOM-killed the
// engine. Here the engine runs with memory.limit 96 MiB inside a 96 MiB memory cgroup: no OOM
// kill, anonymous RSS grows by less than 16 MiB over the idle figure, the flooding connection
// stops being read and is closed by the idle timeout, and other clients get answers over UDP
// and TCP all the while. Loopback only; every loop is bounded in count and time; no timing
// assertions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startEngine, type RunningEngine } from '../helpers/engine.ts';
import { freeUdpTcpPort } from '../helpers/ports.ts';
import { memoryCgroup, type MemoryCgroup } from '../helpers/cgroup.ts';
import { needRoot } from '../helpers/tools.ts';
import { heapFlags } from '../../engine/src/memory/reexec.ts';
import { heapCapMiB } from '../../engine/src/memory/policy.ts';
import { decode, query, tcpAskOnce, tcpFramed, udpAsk } from '../../engine/test/dns-stub.ts';

const LIMIT_MIB = 96;
const QUERIES = 68_000;
const MiB = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

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
  `${QUERIES} pipelined TCP queries never read, in a ${LIMIT_MIB} MiB cgroup: no OOM kill, bounded RSS, others answered`,
  { timeout: 120_000 },
  async (t) => {
    if (!needRoot(t)) return;
    const port = await freeUdpTcpPort();
    // ~5.5 KB answer: 24 TXT strings of 220 bytes
    const records = [
      ...Array.from({ length: 24 }, (_, i) => ({
        name: 'big.flood.test',
        type: 'TXT',
        value: `${i}-${'x'.repeat(217)}`,
      })),
      { name: 'small.flood.test', type: 'A', value: '192.0.2.1' },
    ];
    let engine: RunningEngine | undefined;
    let cg: MemoryCgroup | null = null;
    let flood: net.Socket | undefined;
    try {
      engine = await startEngine({
        // the heap flags the engine would set itself, so it does not re-exec and the pid is the server
        env: { NODE_OPTIONS: heapFlags(heapCapMiB(LIMIT_MIB * 1048576)) },
        config: {
          memory: { limit: `${LIMIT_MIB}MiB` },
          dns: {
            enabled: true,
            listen: [`127.0.0.1:${port}`],
            upstreams: ['127.0.0.1:9'],
            upstreamAttempts: 1,
            upstreamTimeoutMs: 100,
            workers: 1,
            records,
          },
        },
      });
      const pid = engine.proc.pid!;
      cg = memoryCgroup(`ewtest-dnsflood-${process.pid}`, LIMIT_MIB * 1048576);
      assert.ok(
        cg,
        'cannot create a memory cgroup here (needs root and a writable cgroup v1/v2 memory tree)',
      );
      cg.add(pid);
      const big = await tcpAskOnce(port, query('big.flood.test', 'TXT'));
      assert.ok(big && big.length > 5000 && big.length < 6500, `big answer ${big?.length} bytes`);
      const idleAnon = kb(pid, 'RssAnon');

      let peakAnon = idleAnon;
      const sampler = setInterval(() => {
        peakAnon = Math.max(peakAnon, kb(pid, 'RssAnon'));
      }, 20);
      flood = net.connect(port, '127.0.0.1');
      flood.pause(); // never read a reply
      flood.on('error', () => {});
      const payload = tcpFramed(query('big.flood.test', 'TXT'), QUERIES);
      flood.write(payload);

      // while the flood stalls, other clients: 60 rounds of one UDP and one TCP query
      let udpOk = 0;
      let tcpOk = 0;
      const dead = () => engine!.proc.exitCode !== null || engine!.proc.signalCode !== null;
      for (let i = 0; i < 60 && !dead(); i++) {
        const u = await udpAsk(port, query('small.flood.test', 'A'), 2000);
        if (u && decode(u).answers?.length === 1) udpOk++;
        const b = await tcpAskOnce(port, query('big.flood.test', 'TXT'));
        if (b && decode(b).answers?.length === 24) tcpOk++;
        await new Promise((r) => setTimeout(r, 50));
      }
      const tcpStatus = async () => {
        try {
          return (
            JSON.parse((await engine!.get('/status')).body).components.find(
              (c: { name: string }) => c.name === 'dns',
            ).status.tcp ?? {}
          );
        } catch {
          return {};
        }
      };
      const st = await tcpStatus();
      // the stalled connection moves no byte: the idle timeout closes it (bounded wait: 30 s)
      let closed = false;
      for (let i = 0; i < 60 && !closed && !dead(); i++) {
        closed = (await tcpStatus()).idleClosed > 0;
        if (!closed) await new Promise((r) => setTimeout(r, 500));
      }
      clearInterval(sampler);
      t.diagnostic(
        `engine ${dead() ? `died (exit ${engine.proc.exitCode}, signal ${engine.proc.signalCode})` : 'alive'}; sent ${MiB(payload.length)} in ${QUERIES} queries; RssAnon idle ${MiB(idleAnon)}, peak ${MiB(peakAnon)}; VmHWM ${MiB(kb(pid, 'VmHWM'))}; cgroup peak ${MiB(cg.peak())}; engine TCP queue peak ${st.queuedPeak} B, throttled ${st.throttled}x`,
      );
      assert.equal(cg.oomKills(), 0, 'the kernel OOM-killed the engine');
      assert.equal(engine.proc.exitCode, null, 'the engine exited during the flood');
      assert.equal(udpOk, 60, 'UDP clients went unanswered during the flood');
      assert.equal(tcpOk, 60, 'TCP clients went unanswered during the flood');
      assert.ok(st.throttled > 0, 'the flooding connection was never stopped');
      assert.ok(
        peakAnon - idleAnon < 16 * 1048576,
        `anonymous RSS grew by ${MiB(peakAnon - idleAnon)} during the flood`,
      );
      assert.ok(closed, 'the engine did not close the stalled flooding connection');
    } finally {
      flood?.destroy();
      await engine?.stop();
      cg?.remove();
    }
  },
);
