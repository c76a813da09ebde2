// A flood of 10^5 unique names (dnsperf, each name once) through the engine (built executable)
// with memory.limit 64 MiB: V8 heap cap 32 MiB (0.5 × limit), DNS budget 1 MiB (memory.split.dns
// 0.0625 of the 16 MiB the runtime's 48 MiB reserve leaves, memory/policy.ts shareBase). The serving process is moved into a memory cgroup of 64 MiB (what systemd MemoryMax
// or compose mem_limit do): it must survive without an OOM kill and keep answering; RSS is read
// from /proc (peak anonymous memory sampled, and VmHWM), never from the cache's own counter;
// the cache's bytes must stay within the budget.
// Node's executable maps ~36-40 MiB of file-backed pages (shared, reclaimable page cache, not
// charged to the service's cgroup), so VmHWM is already ~60 MiB for an idle engine (measured):
// asserted are the anonymous RSS and the cgroup's charge; VmHWM is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needRoot, needTool } from '../helpers/tools.ts';
import { startStub, udpAsk, query } from '../../engine/test/dns-stub.ts';
import { memoryCgroup, readProcStatus, startDns } from './30-dns-lib.ts';
import { shareBase } from '../../engine/src/memory/policy.ts';

const LIMIT = 64 * 1024 * 1024;
const NAMES = 100_000;
const MiB = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

test(
  '10^5 unique names in a 64 MiB cgroup: no OOM kill, RSS and cgroup charge under the limit, cache bytes under the DNS budget',
  { timeout: 150_000 },
  async (t) => {
    if (!needTool(t, 'dnsperf') || !needRoot(t)) return;
    const cg = memoryCgroup(`ewD-flood-${process.pid}`, LIMIT);
    // without a writable memory controller (e.g. a container's cgroup v2 with processes in its
    // root) the RSS assertions still run; only the kernel-enforced part is left out, and said
    if (!cg) t.diagnostic('no writable memory cgroup here: RSS measured without a kernel-enforced limit');
    const stub = await startStub();
    const dir = mkdtempSync(join(tmpdir(), 'ewD-flood-'));
    const dns = await startDns(
      { upstreams: [`127.0.0.1:${stub.port}`], upstreamTimeoutMs: 1000, upstreamAttempts: 1 },
      { memory: { limit: '64MiB' } },
    );
    cg?.add(dns.pid);
    const idle = readProcStatus(dns.pid);
    const budget = (await dns.status()).budgetBytes;
    try {
      const file = join(dir, 'flood.txt');
      // every name unique; a tenth are NXDOMAIN so negative entries take part too
      writeFileSync(
        file,
        Array.from({ length: NAMES }, (_, i) =>
          i % 10 === 0 ? `nx${i}.flood.example.test A\n` : `f${i}.flood.example.test A\n`,
        ).join(''),
      );
      const peak = { RssAnon: 0 };
      const sampler = setInterval(() => {
        try {
          const m = readProcStatus(dns.pid);
          peak.RssAnon = Math.max(peak.RssAnon, m.RssAnon);
        } catch {
          /* process gone: asserted below */
        }
      }, 50);
      const out = await new Promise<string>((resolve, reject) => {
        const p = spawn('dnsperf', [
          '-s',
          '127.0.0.1',
          '-p',
          String(dns.port),
          '-d',
          file,
          '-n',
          '1',
          '-l',
          '90',
          '-t',
          '3',
        ]);
        let text = '';
        p.stdout.on('data', (d) => {
          text += d;
        });
        p.on('error', reject);
        p.on('exit', () => resolve(text));
      });
      clearInterval(sampler);
      assert.equal(dns.proc.exitCode, null, `the engine died (OOM kills: ${cg?.oomKills()})`);
      assert.equal(budget, Math.floor(shareBase(LIMIT) * 0.0625), 'DNS budget from the memory policy');
      const sent = Number(/Queries sent:\s+(\d+)/.exec(out)?.[1] ?? 0);
      assert.equal(sent, NAMES, out);
      const st = await dns.status();
      const mem = readProcStatus(dns.pid);
      t.diagnostic(
        `idle: RSS ${MiB(idle.VmRSS)} (anonymous ${MiB(idle.RssAnon)}, file ${MiB(idle.RssFile)})`,
      );
      t.diagnostic(
        `flood: peak RSS ${MiB(mem.VmHWM)}, peak anonymous ${MiB(peak.RssAnon)}, cgroup peak ${cg ? MiB(cg.peak()) : 'n/a'}, OOM kills ${cg?.oomKills() ?? 'n/a'}`,
      );
      t.diagnostic(
        `cache ${st.status.cache.bytes} B of ${budget} B in ${st.status.cache.entries} entries; upstream queries ${stub.total}; ${/Queries completed:.*$/m.exec(out)?.[0]}`,
      );
      assert.equal(st.state, 'running');
      assert.ok(
        st.status.counters.queries >= NAMES * 0.9,
        `only ${st.status.counters.queries} queries reached the server`,
      );
      assert.ok(
        stub.total >= NAMES * 0.5,
        `only ${stub.total} upstream queries: the flood did not exercise the cache`,
      );
      assert.ok(st.status.cache.bytes <= budget, `cache ${st.status.cache.bytes} > budget ${budget}`);
      assert.ok(st.status.cache.entries > 1000);
      // the process's own resident memory (anonymous RSS) under the limit, with room to spare;
      // the cgroup's charge (what MemoryMax enforces) under the limit; VmHWM is reported above
      assert.ok(peak.RssAnon < LIMIT, `anonymous RSS ${MiB(peak.RssAnon)} beyond the 64 MiB limit`);
      if (cg) {
        assert.equal(cg.oomKills(), 0);
        assert.ok(cg.peak() < LIMIT, `cgroup peak ${MiB(cg.peak())}`);
      }
      assert.ok(
        await udpAsk(dns.port, query('f1.flood.example.test'), 2000),
        'still answering after the flood',
      );
    } finally {
      await dns.stop();
      await stub.close();
      cg?.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
