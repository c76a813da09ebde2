// dns.workers = 2 in the built executable (Node 24: dgram reusePort): the main thread and a
// worker thread share the UDP port, and the kernel spreads clients over them by source port.
// Checked from outside: answers from both threads (dns_thread_datagrams_total of each > 0,
// and dig sees the same answers whoever serves it), the counters add up over the threads, and
// with a small DNS budget a burst of unique names (dnsperf, 8 client sockets) leaves the
// summed cache bytes within the one budget while the worker's replica really holds entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { needTool, unavailable } from '../helpers/tools.ts';
import { ENGINE_EXE, engineCommand } from '../helpers/engine.ts';
import { startStub, udpAsk, query, decode } from '../../engine/test/dns-stub.ts';
import { dig, digAnswers, startDns } from './30-dns-lib.ts';

/** Worker threads need the executable (the embedded worker bundle, Node 24's reusePort); from source there is one thread. */
function needExecutable(t: TestContext): boolean {
  return (
    engineCommand()[0] === ENGINE_EXE ||
    unavailable(t, `${ENGINE_EXE} missing: the build stage must write the x64 executable`)
  );
}

/** Prometheus samples of one metric name: label text ("" without labels) -> value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^edgewan_${name}(\\{[^}]*\\})? (\\S+)$`, 'gm')))
    out.set(m[1] ?? '', Number(m[2]));
  return out;
}

test(
  'dns.workers 2: both threads answer on one port, counters add up, the cache budget holds',
  { timeout: 90_000 },
  async (t) => {
    if (!needExecutable(t) || !needTool(t, 'dig') || !needTool(t, 'dnsperf')) return;
    const stub = await startStub();
    const dir = mkdtempSync(join(tmpdir(), 'ewD-workers-'));
    const BUDGET = 256 * 1024;
    const dns = await startDns(
      {
        upstreams: [`127.0.0.1:${stub.port}`],
        workers: 2,
        records: [{ name: 'printer.branch.lan', type: 'A', value: '192.168.1.50' }],
      },
      { memory: { limit: '256MiB', split: { dns: '256KiB' } } },
    );
    try {
      // /readyz answers while DNS may still be starting its worker: wait for both threads
      let threads = { of: 0, running: 0, why: '' };
      for (let i = 0; i < 100 && threads.running < 2; i++) {
        threads = ((await dns.status()).status as unknown as { threads: typeof threads }).threads;
        if (threads.running < 2) await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(
        [threads.of, threads.running],
        [2, 2],
        `threads: ${JSON.stringify(threads)}\n${dns.engine.output()}`,
      );

      // 20 forwarded names, then 200 queries each from a fresh socket (a new source port)
      for (let i = 0; i < 20; i++)
        assert.ok(await udpAsk(dns.port, query(`w${i}.example.test`)), `w${i} unanswered`);
      await new Promise((r) => setTimeout(r, 200)); // the worker's replica receives them at the main thread's next turn
      const upstreamBefore = stub.total;
      for (let i = 0; i < 200; i += 20) {
        const replies = await Promise.all(
          Array.from({ length: 20 }, (_, j) =>
            udpAsk(
              dns.port,
              query(i % 40 === 0 ? 'printer.branch.lan' : `w${j}.example.test`, 'A', { id: i + j }),
            ),
          ),
        );
        for (const [j, r] of replies.entries()) {
          assert.ok(r, `query ${i + j} unanswered`);
          const d = decode(r);
          assert.equal(d.id, i + j);
          assert.equal(d.answers.length, 1);
        }
      }
      assert.equal(stub.total, upstreamBefore, 'cached names went upstream again');
      // the real dig, several times: the same answer whichever thread serves it
      for (let k = 0; k < 6; k++)
        assert.deepEqual(
          digAnswers(await dig(dns.port, 'printer.branch.lan', 'A')).map((a) => a[3]),
          ['192.168.1.50'],
        );

      const m = (await dns.engine.get('/metrics')).body;
      const perThread = samples(m, 'dns_thread_datagrams_total');
      assert.deepEqual([...perThread.keys()].sort(), ['{thread="0"}', '{thread="1"}']);
      for (const [k, v] of perThread) assert.ok(v > 0, `thread ${k} answered nothing: ${[...perThread]}`);
      const received = [...perThread.values()].reduce((a, b) => a + b, 0);
      assert.equal(
        samples(m, 'dns_queries_total').get(''),
        received,
        'every datagram counted once as a query',
      );
      assert.equal(samples(m, 'dns_cache_hits_total').get(''), 100, 'hits summed over the threads'); // batches 20, 60, 100, 140, 180
      assert.equal(samples(m, 'dns_local_answers_total').get(''), 100 + 6); // batches 0, 40, 80, 120, 160 and dig
      t.diagnostic(`datagrams per thread: ${[...perThread.values()].join(' / ')}`);

      // a burst of unique names, 8 client sockets: far more than the budget holds
      const file = join(dir, 'names.txt');
      writeFileSync(file, Array.from({ length: 3000 }, (_, i) => `u${i}.example.test A\n`).join(''));
      // async: the stub upstream answers from this process's event loop
      const r = await new Promise<{ stdout: string; stderr: string }>((res) =>
        execFile(
          'dnsperf',
          [
            '-s',
            '127.0.0.1',
            '-p',
            String(dns.port),
            '-c',
            '8',
            '-n',
            '1',
            '-d',
            file,
            '-l',
            '30',
            '-t',
            '3',
          ],
          { encoding: 'utf8', timeout: 45_000 },
          (_err, stdout, stderr) => res({ stdout, stderr }),
        ),
      );
      assert.match(r.stdout, /Queries completed:\s+[1-9]/, r.stdout + r.stderr);
      await new Promise((res) => setTimeout(res, 300));
      const st = await dns.status();
      t.diagnostic(
        `cache ${st.status.cache.bytes} B of ${st.status.cache.budgetBytes} B in ${st.status.cache.entries} entries; ${/Queries completed:.*$/m.exec(r.stdout)?.[0]}`,
      );
      assert.equal(st.status.cache.budgetBytes, BUDGET);
      assert.ok(st.status.cache.bytes <= BUDGET, `cache ${st.status.cache.bytes} B > budget ${BUDGET} B`);
      // the main thread's cache holds at most half: more than that means the worker's replica is filled too
      assert.ok(
        st.status.cache.bytes > BUDGET * 0.6,
        `cache ${st.status.cache.bytes} B: the worker replica stayed empty?`,
      );
      assert.equal(st.state, 'running');
    } finally {
      await dns.stop();
      await stub.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'dns.workers 2: after a restart both threads answer from the snapshot',
  { timeout: 60_000 },
  async (t) => {
    if (!needExecutable(t)) return;
    const stub = await startStub();
    const dir = mkdtempSync(join(tmpdir(), 'ewD-workers-'));
    const config = { stateDir: join(dir, 'state'), memory: { limit: '256MiB' } };
    try {
      let dns = await startDns({ upstreams: [`127.0.0.1:${stub.port}`], workers: 2 }, config);
      for (let i = 0; i < 30; i++)
        assert.ok(await udpAsk(dns.port, query(`s${i}.example.test`)), `s${i} unanswered`);
      await dns.stop(); // writes the snapshot
      const upstream = stub.total;
      dns = await startDns({ upstreams: [`127.0.0.1:${stub.port}`], workers: 2 }, config);
      try {
        type Threads = { running: number; datagrams: number[]; handedToMain: number };
        const threads = async () => ((await dns.status()).status as unknown as { threads: Threads }).threads;
        for (let i = 0; i < 100 && (await threads()).running < 2; i++)
          await new Promise((r) => setTimeout(r, 100));
        for (let i = 0; i < 30; i++)
          assert.ok(
            await udpAsk(dns.port, query(`s${i}.example.test`)),
            `s${i} unanswered after the restart`,
          );
        assert.equal(stub.total, upstream, 'restored names went upstream');
        const th = await threads();
        t.diagnostic(
          `after the restart: datagrams per thread ${th.datagrams.join(' / ')}, handed to the main thread ${th.handedToMain}`,
        );
        assert.ok(th.datagrams[1] > 0, 'the worker answered nothing');
        assert.equal(th.handedToMain, 0, 'the worker replica did not start from the snapshot');
      } finally {
        await dns.stop();
      }
    } finally {
      await stub.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
