// rss_peak_MB of `npm run bench:tunnel`: edge and core run as real engine processes (the
// esbuild bundle of engine/src/main.ts, memory.limit 96MiB, heap flags as packages set them),
// a port forward on the edge, and 1,000 concurrent client connections pushing mixed data to
// a hash sink behind the core. Peak RSS is VmHWM from /proc/<pid>/status.
// Each engine runs inside its own memory cgroup limited to 96 MiB (when this machine lets us
// make one: root and a writable cgroup tree) — the limit systemd's MemoryMax or a container
// sets: the kernel enforces it, reclaims the executable's clean file pages under pressure and
// OOM-kills on overrun, so the bench reports the cgroup's peak charge and its OOM kills too.
// EDGEWAN_TEST_ENGINE_EXE runs a built executable (the pinned Node) instead of the bundle on
// the host's Node. Diagnosis only: EDGEWAN_BENCH_CGROUP_MB (a looser kernel limit) and
// EDGEWAN_BENCH_SPLIT (a memory.split JSON for both engines), EDGEWAN_BENCH_NODE_OPTIONS
// (other V8 flags than the packages' heap flags); EDGEWAN_BENCH_DIAG=1 passes the engines'
// stderr through.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import * as esbuild from 'esbuild';
import { esbuildOptions } from '../bundle.ts';
import { generateCredentials } from '../../engine/src/tunnel/credentials.ts';
import { hashSink, sendAndHash, sha256 } from './tunnel-lib.ts';
import { memoryCgroup, type MemoryCgroup } from '../../test/helpers/cgroup.ts';
import { heapCapMiB } from '../../engine/src/memory/policy.ts';
import { heapFlags } from '../../engine/src/memory/reexec.ts';

const ROOT = join(import.meta.dirname, '../..');
const STREAMS = 1000;
const PER_STREAM = 128 * 1024;
const LIMIT = 96 * 1024 * 1024;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

/**
 * Peaks of one engine while the streams run. /proc/<pid>/status is read every 10 ms (RssAnon,
 * RssFile); the admin /status every 50 ms (V8 heap, external memory, tunnel internals). Both
 * are samples, so short peaks can be missed: VmHWM (the kernel's own maximum) is read after.
 */
function sampler(adminPort: number, pid: number) {
  const peak = {
    rss: 0,
    heapUsed: 0,
    heapTotal: 0,
    external: 0,
    arrayBuffers: 0,
    samples: 0,
    gate: 0,
    linkQueue: 0,
    cache: 0,
    gcForced: 0,
    gcMaxGap: 0,
    anon: 0,
    file: 0,
    fileMax: 0,
    // the last /status sample before the anonymous peak: what the V8 heap and Buffers held then
    atAnon: { heapTotal: 0, external: 0, arrayBuffers: 0, cache: 0, gate: 0 },
  };
  let last = peak.atAnon;
  let stop = false;
  const proc = (async () => {
    while (!stop) {
      try {
        // anonymous vs file-backed (the executable's pages, which the kernel can drop)
        const ps = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(ps)?.[1] ?? 0) * 1024;
        if (kb('RssAnon') > peak.anon) {
          peak.anon = kb('RssAnon');
          peak.file = kb('RssFile');
          peak.atAnon = last;
        }
        peak.fileMax = Math.max(peak.fileMax, kb('RssFile'));
      } catch {
        /* gone */
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const admin = (async () => {
    while (!stop) {
      try {
        const r = await fetch(`http://127.0.0.1:${adminPort}/status`);
        type TunnelStatus = {
          readGate?: { heldBytes: number };
          linkQueuedBytes?: number;
          gcForced?: number;
          gcGuard?: { maxGapMs: number; arrayBuffersBytes: number } | null;
          cache?: { memoryBytes: number };
        };
        const st = (await r.json()) as {
          memory: { rssBytes: number; heapUsedBytes: number; heapTotalBytes: number; externalBytes: number };
          components: Array<{ name: string; status?: TunnelStatus }>;
        };
        const m = st.memory;
        const tun = st.components.find((c) => c.name === 'tunnel')?.status;
        const ab = tun?.gcGuard?.arrayBuffersBytes ?? 0;
        last = {
          heapTotal: m.heapTotalBytes,
          external: m.externalBytes,
          arrayBuffers: ab,
          cache: tun?.cache?.memoryBytes ?? 0,
          gate: tun?.readGate?.heldBytes ?? 0,
        };
        peak.gate = Math.max(peak.gate, last.gate);
        peak.linkQueue = Math.max(peak.linkQueue, tun?.linkQueuedBytes ?? 0);
        peak.cache = Math.max(peak.cache, last.cache);
        peak.gcForced = Math.max(peak.gcForced, tun?.gcForced ?? 0);
        peak.gcMaxGap = Math.max(peak.gcMaxGap, tun?.gcGuard?.maxGapMs ?? 0);
        peak.rss = Math.max(peak.rss, m.rssBytes);
        peak.heapUsed = Math.max(peak.heapUsed, m.heapUsedBytes);
        peak.heapTotal = Math.max(peak.heapTotal, m.heapTotalBytes);
        peak.external = Math.max(peak.external, m.externalBytes);
        peak.arrayBuffers = Math.max(peak.arrayBuffers, ab);
        peak.samples++;
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    peak,
    stop: async () => {
      stop = true;
      await Promise.all([proc, admin]);
    },
  };
}
const MB = (b: number) => Math.round(b / 1048576);

const rssNow = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const hwm = (pid: number) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

export async function rssBench(data: Buffer): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'ewC-rss-'));
  const bundle = join(dir, 'edgewan.cjs');
  await esbuild.build({
    ...esbuildOptions({ root: ROOT, version: '0.0.0-bench', commit: 'bench' }),
    outfile: bundle,
    write: true,
    sourcemap: false,
    metafile: false,
  });
  generateCredentials(join(dir, 'keys'));
  const sink = await hashSink();
  const [tun, fwd, a1, a2] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const common = {
    memory: {
      limit: '96MiB',
      ...(process.env.EDGEWAN_BENCH_SPLIT ? { split: JSON.parse(process.env.EDGEWAN_BENCH_SPLIT) } : {}),
    },
    log: { level: 'warn' },
  };
  const cfg = {
    core: {
      ...common,
      role: 'core',
      stateDir: join(dir, 'core'),
      admin: { listen: `127.0.0.1:${a1}` },
      tunnel: { listen: `127.0.0.1:${tun}`, auth: { keyDir: join(dir, 'keys') } },
    },
    edge: {
      ...common,
      role: 'edge',
      stateDir: join(dir, 'edge'),
      admin: { listen: `127.0.0.1:${a2}` },
      tunnel: { connect: `127.0.0.1:${tun}`, auth: { keyDir: join(dir, 'keys') } },
      forwards: [{ listen: `127.0.0.1:${fwd}`, target: `127.0.0.1:${sink.port}`, direction: 'edge-to-core' }],
    },
  };
  const procs: ChildProcess[] = [];
  const cgroups: (MemoryCgroup | null)[] = [];
  const exe = process.env.EDGEWAN_TEST_ENGINE_EXE;
  for (const role of ['core', 'edge'] as const) {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(cfg[role].stateDir, { recursive: true });
    writeFileSync(join(dir, `${role}.json`), JSON.stringify(cfg[role]));
    // EDGEWAN_BENCH_CGROUP_MB: a looser kernel limit, to see how far over 96 MiB a build goes
    const cg = memoryCgroup(
      `ewbench-${role}-${process.pid}`,
      Number(process.env.EDGEWAN_BENCH_CGROUP_MB || 96) * 1048576,
    );
    cgroups.push(cg);
    const cmd = [...(exe ? [exe] : [process.execPath, bundle]), 'run', '--config', join(dir, `${role}.json`)];
    // heap cap = 0.5 × 96 MiB and the semi-space scaled with it, as the re-exec, systemd and
    // procd set them (--max-old-space-size=48 --max-semi-space-size=3; docs/contract.md
    // "Memory limit and heap cap");
    // the shell joins the cgroup before exec, so every page of the engine is charged to it
    procs.push(
      spawn(
        cg ? 'sh' : cmd[0],
        cg ? ['-c', 'echo $$ > "$0" && exec "$@"', cg.procsFile, ...cmd] : cmd.slice(1),
        {
          env: {
            ...process.env,
            NODE_OPTIONS: process.env.EDGEWAN_BENCH_NODE_OPTIONS || heapFlags(heapCapMiB(LIMIT)),
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      ),
    );
  }
  // If the bench itself dies (an uncaught error skips `finally`), the engines must not live on.
  const killAll = () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  };
  process.once('exit', killAll);
  let errText = '';
  for (const p of procs)
    p.stderr!.on('data', (d) => {
      errText = (errText + d).slice(-4000);
      if (process.env.EDGEWAN_BENCH_DIAG) process.stderr.write(d);
    });
  try {
    const once = async (d: Buffer) => {
      const s = net.connect(fwd, '127.0.0.1');
      await new Promise((r, j) => {
        s.once('connect', r);
        s.once('error', j);
      });
      return sendAndHash(s, d);
    };
    const probe = data.subarray(0, 1000);
    for (let i = 0; ; i++) {
      try {
        if ((await once(probe)) === sha256(probe)) break;
      } catch {
        /* not up yet */
      }
      if (i > 100) throw new Error(`engines did not come up: ${errText}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const idle = procs.map((p) => rssNow(p.pid!));
    const cpu0 = procs.map((p) => cpuSeconds(p.pid!));
    const samplers = [sampler(a1, procs[0].pid!), sampler(a2, procs[1].pid!)];
    let bad = 0;
    let firstError = '';
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: STREAMS }, async (_, i) => {
        const off = (i * 7_919_113) % (data.length - PER_STREAM);
        const d = data.subarray(off, off + PER_STREAM);
        try {
          if ((await once(d)) !== sha256(d)) bad++;
        } catch (e) {
          bad++;
          firstError ||= (e as Error).message;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = procs.map((p, i) => Math.round((cpuSeconds(p.pid!) - cpu0[i]) * 100) / 100);
    for (const s of samplers) await s.stop();
    const oom = cgroups.map((g) => g?.oomKills() ?? 0);
    if (oom.some((n) => n > 0))
      throw new Error(
        `the kernel OOM-killed an engine in its 96 MiB cgroup (core ${oom[0]}, edge ${oom[1]}): ${errText}`,
      );
    if (bad)
      throw new Error(
        `${bad} of ${STREAMS} streams failed or delivered wrong bytes (first error: ${firstError || 'none, wrong hash'}): ${errText}`,
      );
    const [c, e] = samplers.map((s) => s.peak);
    return {
      rss_streams: STREAMS,
      rss_bytes_per_stream: PER_STREAM,
      rss_limit_MB: 96,
      rss_seconds: Math.round(seconds * 10) / 10,
      // CPU each engine spent on the streams (user + system; less noisy than rss_seconds on a shared machine)
      rss_cpu_s_core: cpu[0],
      rss_cpu_s_edge: cpu[1],
      rss_peak_MB_core: Math.round(hwm(procs[0].pid!)),
      rss_peak_MB_edge: Math.round(hwm(procs[1].pid!)),
      rss_peak_MB: Math.round(Math.max(hwm(procs[0].pid!), hwm(procs[1].pid!))),
      // where it goes (sampled every 50 ms from /status, so peaks can be missed): RSS before
      // the streams, and the peaks of the V8 heap and of memory outside it (Buffers)
      rss_idle_MB_core: Math.round(idle[0]),
      rss_idle_MB_edge: Math.round(idle[1]),
      // the kernel's view: peak charge of each engine's 96 MiB cgroup (NaN: no cgroup here)
      cgroup_peak_MB_core: MB(cgroups[0]?.peak() ?? NaN),
      cgroup_peak_MB_edge: MB(cgroups[1]?.peak() ?? NaN),
      cgroup_oom_kills: oom[0] + oom[1],
      rss_anon_peak_MB_core: MB(c.anon),
      rss_anon_peak_MB_edge: MB(e.anon),
      rss_file_at_anon_peak_MB_core: MB(c.file),
      rss_file_at_anon_peak_MB_edge: MB(e.file),
      heap_used_peak_MB_core: MB(c.heapUsed),
      heap_used_peak_MB_edge: MB(e.heapUsed),
      rss_file_peak_MB_core: MB(c.fileMax),
      rss_file_peak_MB_edge: MB(e.fileMax),
      heap_total_peak_MB_core: MB(c.heapTotal),
      heap_total_peak_MB_edge: MB(e.heapTotal),
      external_peak_MB_core: MB(c.external),
      external_peak_MB_edge: MB(e.external),
      array_buffers_peak_MB_core: MB(c.arrayBuffers),
      array_buffers_peak_MB_edge: MB(e.arrayBuffers),
      // the /status sample just before each anonymous peak
      at_anon_peak_heap_total_MB_core: MB(c.atAnon.heapTotal),
      at_anon_peak_heap_total_MB_edge: MB(e.atAnon.heapTotal),
      at_anon_peak_array_buffers_MB_core: MB(c.atAnon.arrayBuffers),
      at_anon_peak_array_buffers_MB_edge: MB(e.atAnon.arrayBuffers),
      gate_held_peak_MB_core: MB(c.gate),
      gate_held_peak_MB_edge: MB(e.gate),
      link_queue_peak_MB_core: MB(c.linkQueue),
      link_queue_peak_MB_edge: MB(e.linkQueue),
      chunk_cache_peak_MB_core: MB(c.cache),
      chunk_cache_peak_MB_edge: MB(e.cache),
      gc_forced_core: c.gcForced,
      gc_forced_edge: e.gcForced,
      gc_max_gap_ms_core: c.gcMaxGap,
      gc_max_gap_ms_edge: e.gcMaxGap,
    };
  } finally {
    // wait for both engines to exit, then remove their state (each run wrote ~100 MB of chunks)
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((r) => {
            if (p.exitCode !== null || p.signalCode !== null) r();
            else {
              p.once('exit', () => r());
              p.kill('SIGTERM');
            }
          }),
      ),
    );
    process.off('exit', killAll);
    sink.close();
    for (const g of cgroups) g?.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
