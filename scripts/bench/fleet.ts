// `npm run bench:fleet [-- --json] [-- --n 1,10,50] [-- --mb 2]`: one fleet core (a real engine
// process, EDGEWAN_TEST_ENGINE_EXE or the source; memory.limit 256 MiB) and N enrolled edges
// (issue 16, benchmark). The N edges are one load generator in this process: N TunnelComponents,
// the engine's own link code, each with its own certificate, name, state dir and chunk store
// (N engine processes would need N × ~60 MB on this 2-core machine). Each edge sends the same
// mixed corpus (--mb MiB per edge) to a hash sink behind the core twice, all edges at once.
// Per N: link set-up time to the N-th edge, core RSS (peak VmHWM, sampled VmRSS) and CPU per
// edge, aggregate throughput, fairness (min/max per-edge throughput), repeat reduction per
// edge from the core's per-edge link counters, and that every stream arrived exactly.
import net from 'node:net';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caInit, enroll } from '../../engine/src/tunnel/fleet/ca.ts';
import { TunnelComponent } from '../../engine/src/tunnel/component.ts';
import { heapFlags } from '../../engine/src/memory/reexec.ts';
import { freePort, startEngine, type RunningEngine } from '../../test/helpers/engine.ts';
import { benchCtx } from './tunnel-wan-peer.ts';
import { corpus } from './tunnel-lib.ts';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const JSON_OUT = args.includes('--json');
const NS = (opt('--n') ?? '1,10,50')
  .split(',')
  .map(Number)
  .filter((n) => n > 0 && n <= 200);
const MB = Number(opt('--mb') ?? 2);
const CAP_MIB = 256;
const say = (s: string) => (JSON_OUT ? process.stderr : process.stdout).write(`${s}\n`);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The engine's pid (the re-exec child when there is one). */
function enginePid(e: RunningEngine): number {
  const pid = e.proc.pid!;
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    if (kids.length) return Number(kids[0]);
  } catch {
    /* none */
  }
  return pid;
}
const kb = (pid: number, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) /
  1024;
const cpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

/** Sink: each connection starts with "name\n"; records bytes, SHA-256 and when it ended. */
async function sink() {
  const done = new Map<string, { bytes: number; sha: string; at: number }>();
  const srv = net.createServer((s) => {
    let name: string | null = null;
    let head = Buffer.alloc(0);
    const h = createHash('sha256');
    let n = 0;
    s.on('data', (d) => {
      if (name === null) {
        head = Buffer.concat([head, d]);
        const i = head.indexOf(10);
        if (i < 0) return;
        name = head.subarray(0, i).toString();
        d = head.subarray(i + 1);
      }
      h.update(d);
      n += d.length;
    });
    s.on('end', () => {
      done.set(name ?? '?', { bytes: n, sha: h.digest('hex'), at: performance.now() });
      s.end();
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, done, close: () => srv.close() };
}

async function edgeStats(
  core: RunningEngine,
): Promise<Map<string, { linkRxBytes: number; connected: boolean }>> {
  const st = JSON.parse((await core.get('/status')).body).components.find(
    (c: { name: string }) => c.name === 'tunnel',
  ).status.fleet;
  return new Map(st.edges.map((e: { name: string; linkRxBytes: number; connected: boolean }) => [e.name, e]));
}

async function runN(n: number, data: Buffer, root: string) {
  const caDir = join(root, `ca-${n}`);
  caInit(caDir);
  const names = Array.from({ length: n }, (_, i) => `edge-${String(i + 1).padStart(3, '0')}`);
  for (const name of names) enroll(caDir, name, join(root, `e-${n}`, name));
  const tun = await freePort();
  const s = await sink();
  const core = await startEngine({
    env: { NODE_OPTIONS: heapFlags(CAP_MIB / 2) },
    config: {
      role: 'core',
      memory: { limit: `${CAP_MIB}MiB` },
      log: { level: 'warn' },
      tunnel: { listen: `127.0.0.1:${tun}`, auth: { keyDir: caDir, ca: join(caDir, 'ca.crt') } },
    },
  });
  const pid = enginePid(core);
  let rssMax = 0;
  const sampler = setInterval(() => {
    try {
      rssMax = Math.max(rssMax, kb(pid, 'VmRSS'));
    } catch {
      /* gone */
    }
  }, 50);
  const edges = names.map(
    (name) =>
      new TunnelComponent({
        role: 'edge',
        stateDir: join(root, `s-${n}`, name),
        listen: null,
        connect: `127.0.0.1:${tun}`,
        diskMaxBytes: 64 << 20,
        backoffMs: { initial: 100, max: 1000 },
        auth: {
          keyDir: join(root, `e-${n}`, name),
          ca: join(root, `e-${n}`, name, 'ca.crt'),
          psk: null,
          cert: null,
          key: null,
          pin: null,
        },
      }),
  );
  try {
    const cpu0 = cpu(pid);
    const t0 = performance.now();
    await Promise.all(edges.map((e) => e.start(benchCtx(4 << 20))));
    const linkedAt: number[] = [];
    await Promise.all(
      edges.map(async (e) => {
        while (!e.currentLink()) await new Promise((r) => setTimeout(r, 5));
        await e.currentLink()!.ready$();
        linkedAt.push(performance.now() - t0);
      }),
    );
    const setupMs = Math.max(...linkedAt);
    const want = sha(data);
    const round1 = async (tag: string) => {
      s.done.clear();
      const before = await edgeStats(core);
      const start = performance.now();
      await Promise.all(
        edges.map(async (e, i) => {
          const st = await e.open(`127.0.0.1:${s.port}`);
          st.on('error', () => {});
          st.resume();
          st.write(`${names[i]}\n`);
          st.end(data);
          await new Promise((r) => st.once('close', r));
        }),
      );
      while (s.done.size < n) await new Promise((r) => setTimeout(r, 10));
      const wall = performance.now() - start;
      const after = await edgeStats(core);
      const per = names.map((name) => {
        const d = s.done.get(name)!;
        if (d.bytes !== data.length || d.sha !== want)
          throw new Error(
            `${tag}: ${name} delivered ${d.bytes} bytes, SHA-256 ${d.sha === want ? 'equal' : 'DIFFERENT'}`,
          );
        const link = after.get(name)!.linkRxBytes - (before.get(name)?.linkRxBytes ?? 0);
        return { mbps: data.length / 1e6 / ((d.at - start) / 1000), reduction: 1 - link / data.length };
      });
      const t = per.map((p) => p.mbps);
      return {
        aggregate_MBps: round((n * data.length) / 1e6 / (wall / 1000)),
        per_edge_MBps_min: round(Math.min(...t), 2),
        per_edge_MBps_max: round(Math.max(...t), 2),
        fairness_min_over_max: round(Math.min(...t) / Math.max(...t), 2),
        reduction_pct_min: round(100 * Math.min(...per.map((p) => p.reduction))),
        reduction_pct_max: round(100 * Math.max(...per.map((p) => p.reduction))),
      };
    };
    say(`N=${n}: ${n} edges linked in ${Math.round(setupMs)} ms`);
    const cold = await round1('first');
    const repeat = await round1('repeat');
    const cpuS = cpu(pid) - cpu0;
    const hwm = kb(pid, 'VmHWM');
    const mem = JSON.parse((await core.get('/status')).body).components.find(
      (c: { name: string }) => c.name === 'tunnel',
    ).status.memory;
    const MiB = (b: number) => round(b / 1048576, 2);
    const r = {
      edges: n,
      setup_to_nth_edge_ms: Math.round(setupMs),
      core_rss_peak_MiB: round(hwm),
      core_rss_sampled_max_MiB: round(rssMax),
      core_cap_MiB: CAP_MIB,
      core_under_cap: hwm < CAP_MIB,
      core_cpu_s: round(cpuS, 2),
      core_cpu_ms_per_edge: Math.round((1000 * cpuS) / n),
      first: cold,
      repeat,
      exact: true,
      // the core's own accounting (tunnel/link-memory.ts) after both rounds; null before it existed
      core_tunnel_memory: mem
        ? {
            budget_MiB: MiB(mem.budgetBytes),
            used_MiB: MiB(mem.usedBytes),
            store_limit_MiB: MiB(mem.store.limitBytes),
            store_used_MiB: MiB(mem.store.usedBytes),
            peer_models_limit_MiB: MiB(mem.peerModels.limitBytes),
            peer_models_used_MiB: MiB(mem.peerModels.usedBytes),
            per_link_KiB: Math.round(mem.peerModels.perLinkBytes / 1024),
            peer_model_evictions: mem.peerModels.evicted,
            recv_per_link_KiB: Math.round(mem.buffers.perLinkRecvBytes / 1024),
          }
        : null,
    };
    say(`N=${n}: ${JSON.stringify(r)}`);
    return r;
  } finally {
    clearInterval(sampler);
    await Promise.all(edges.map((e) => e.stop(50)));
    await core.stop();
    s.close();
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'ewF-bench-'));
  try {
    const data = corpus(MB << 20);
    const out: Record<string, unknown> = {
      load_generator:
        'edges as TunnelComponents in one process (the engine link code), core as a real engine process',
      engine: process.env.EDGEWAN_TEST_ENGINE_EXE ?? 'source',
      corpus_MiB_per_edge: MB,
      load_avg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
      runs: [] as unknown[],
    };
    for (const n of NS) (out.runs as unknown[]).push(await runN(n, data, root));
    process.stdout.write(`${JSON.stringify(out, null, JSON_OUT ? 0 : 1)}\n`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
