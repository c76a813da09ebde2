// `npm run bench:dns -- [--json] [--seconds N] [--clients N] [--workers N]`: dnsperf (Debian) against our DNS cache and
// against dnsmasq (Debian, dnsmasq-base) in the same run, configured equivalently: the same
// 100 local host records, the same stub upstream on loopback for forwarded names.
//   local   100 local names                      → local_qps, local_qps_dnsmasq
//   cached  1000 forwarded names, warmed first   → cached_qps, cached_qps_dnsmasq
//   p99     a separate `dnsperf -v` run on the cached names per server (Debian's dnsperf
//           prints no percentiles, docs/platform-notes.md §7), both at the same offered rate (-Q: half the
//           slower server's cache-hit QPS)         → p99_ms, p99_ms_dnsmasq, p99_offered_qps
//           and unthrottled (saturated)           → p99_saturated_ms, p99_saturated_ms_dnsmasq
// dnsperf runs --clients (default 8) client sockets against both servers: with dns.workers > 1
// the kernel spreads clients over our threads by source port, so one socket would measure one
// thread (--clients 1 does exactly that). dnsmasq has one thread either way. --workers sets our
// dns.workers (default: the config default). *_cpu_us: each server's CPU time per completed
// query (user + system of every thread, /proc/PID/stat), steadier than QPS on a busy machine.
// floor_*: a minimal Node UDP responder (dns-floor-server.mjs: append an A record, send back; no
// parsing or cache) with as many threads as ours, on the x64 executable's Node version (the
// build's download cache): what Node's dgram allows on this machine. --no-floor skips it.
// Ours runs as the built x64 executable (dist/bin/edgewan-linux-x64, or EDGEWAN_TEST_ENGINE_EXE)
// when it exists, else the engine source on this Node; the JSON says which (`ours`). Every dnsperf run is bounded
// by -l (≤ 10 s).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startStub, udpAsk, query } from '../../engine/test/dns-stub.ts';
import { engineCommand, ENGINE_EXE, ROOT } from '../../test/helpers/engine.ts';
import { freeUdpTcpPort } from '../../test/helpers/ports.ts';
import { downloadDir } from '../paths.ts';
import { ensureRuntime, LOCK_PATH, loadLock } from '../runtimes.ts';

const args = process.argv.slice(2);
const JSON_ONLY = args.includes('--json');
const SECONDS = Math.min(10, Number(args[args.indexOf('--seconds') + 1]) || 5);
const CLIENTS = Math.max(1, Math.min(64, Number(args[args.indexOf('--clients') + 1]) || 8));
const WORKERS = args.includes('--workers') ? Number(args[args.indexOf('--workers') + 1]) : null;
const FLOOR = !args.includes('--no-floor');
const LOCAL_N = 100;
const CACHED_N = 1000;
const say = (s: string) => {
  if (!JSON_ONLY) process.stderr.write(`${s}\n`);
};

function need(cmd: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    process.stderr.write(`bench:dns needs ${cmd}: apt-get install ${pkg}\n`);
    process.exit(2);
  }
}

const freePort = freeUdpTcpPort;

async function waitAnswer(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await udpAsk(port, query('host0.branch.lan'), 200)) return;
  }
  throw new Error(`nothing answers on 127.0.0.1:${port}`);
}

/** One dnsperf run; `verbose` prints a line per query (for p99), `rate` caps the offered queries per second (-Q). */
function dnsperf(port: number, file: string, seconds: number, verbose = false, rate = 0): string {
  const r = spawnSync(
    'dnsperf',
    [
      '-s',
      '127.0.0.1',
      '-p',
      String(port),
      '-c',
      String(CLIENTS),
      '-d',
      file,
      '-l',
      String(seconds),
      ...(verbose ? ['-v'] : []),
      ...(rate > 0 ? ['-Q', String(rate)] : []),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 30, timeout: (seconds + 15) * 1000 },
  );
  if (r.status !== 0) throw new Error(`dnsperf failed: ${r.stderr}`);
  return r.stdout;
}
/** CPU seconds (user + system, all threads) a process has used so far (clock ticks of 1/100 s). */
function cpuS(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
/** A dnsperf run plus the server's CPU microseconds per completed query (less sensitive to other load than QPS). */
function measured(pid: number, port: number, file: string, seconds: number): { qps: number; cpuUs: number } {
  const c0 = cpuS(pid);
  const out = dnsperf(port, file, seconds);
  const done = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return { qps: qps(out), cpuUs: Math.round((((cpuS(pid) - c0) * 1e6) / Math.max(1, done)) * 10) / 10 };
}
const qps = (out: string) => Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
/** p99 of the per-query latencies `dnsperf -v` prints as the last field of each answer line. */
function p99(out: string): number {
  const lat: number[] = [];
  for (const line of out.split('\n')) {
    const m = /^> \S+ .* ([\d.]+)$/.exec(line);
    if (m) lat.push(Number(m[1]));
  }
  if (lat.length === 0) throw new Error('dnsperf -v printed no per-query lines');
  lat.sort((a, b) => a - b);
  return Math.round(lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] * 1e6) / 1e3;
}

function startOurs(
  dir: string,
  port: number,
  adminPort: number,
  upstream: number,
): { proc: ChildProcess; ours: string } {
  const records = Array.from({ length: LOCAL_N }, (_, i) => ({
    name: `host${i}.branch.lan`,
    type: 'A',
    value: `10.9.${i >> 8}.${i & 255}`,
    ttlS: 300,
  }));
  const dns = {
    enabled: true,
    listen: [`127.0.0.1:${port}`],
    upstreams: [`127.0.0.1:${upstream}`],
    records,
    ...(WORKERS ? { workers: WORKERS } : {}),
  };
  const cfg = join(dir, 'edgewan.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      stateDir: join(dir, 'state'),
      memory: { limit: '256MiB' },
      admin: { listen: `127.0.0.1:${adminPort}` },
      log: { level: 'warn' },
      dns,
    }),
  );
  // the built x64 executable when it exists, else the engine source on this Node (said in the JSON)
  const [cmd, ...pre] = engineCommand();
  const ours =
    cmd === ENGINE_EXE
      ? relative(ROOT, ENGINE_EXE)
      : `engine source via tsx on node ${process.version} (no ${relative(ROOT, ENGINE_EXE)})`;
  return {
    proc: spawn(cmd, [...pre, 'run', '--config', cfg], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] }),
    ours,
  };
}

function startDnsmasq(dir: string, port: number, upstream: number): ChildProcess {
  const conf = join(dir, 'dnsmasq.conf');
  const lines = [
    'no-resolv',
    'no-hosts',
    'bind-interfaces',
    'listen-address=127.0.0.1',
    `port=${port}`,
    `server=127.0.0.1#${upstream}`,
    'cache-size=10000',
    `pid-file=${join(dir, 'dnsmasq.pid')}`,
    ...Array.from(
      { length: LOCAL_N },
      (_, i) => `host-record=host${i}.branch.lan,10.9.${i >> 8}.${i & 255},300`,
    ),
  ];
  writeFileSync(conf, `${lines.join('\n')}\n`);
  return spawn(
    'dnsmasq',
    ['--keep-in-foreground', `--conf-file=${conf}`, '--user=root', '--log-facility=-'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/** The minimal Node responder on the x64 executable's Node version, `threads` threads: QPS and CPU per query. */
async function measureFloor(
  threads: number,
  file: string,
): Promise<{ qps: number; cpuUs: number; node: string }> {
  const pin = loadLock(LOCK_PATH).executables.x64;
  const node = await ensureRuntime(pin, downloadDir(process.env));
  const port = await freePort();
  const p = spawn(node, [join(ROOT, 'scripts/bench/dns-floor-server.mjs'), String(port), String(threads)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let i = 0; i < 100 && !(await udpAsk(port, query('floor.test'), 200)); i++) {
      /* until it answers */
    }
    return { ...measured(p.pid!, port, file, SECONDS), node: `node ${pin.version}` };
  } finally {
    p.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  need('dnsperf', 'dnsperf');
  need('dnsmasq', 'dnsmasq-base');
  const dir = mkdtempSync(join(tmpdir(), 'ewD-bench-'));
  const stub = await startStub();
  const procs: ChildProcess[] = [];
  try {
    const localFile = join(dir, 'local.txt');
    const cachedFile = join(dir, 'cached.txt');
    writeFileSync(localFile, Array.from({ length: LOCAL_N }, (_, i) => `host${i}.branch.lan A\n`).join(''));
    writeFileSync(cachedFile, Array.from({ length: CACHED_N }, (_, i) => `w${i}.example.test A\n`).join(''));
    const oursPort = await freePort();
    const dmPort = await freePort();
    const adminPort = await freePort();
    const o = startOurs(dir, oursPort, adminPort, stub.port);
    procs.push(o.proc);
    const dm = startDnsmasq(dir, dmPort, stub.port);
    procs.push(dm);
    await waitAnswer(oursPort);
    await waitAnswer(dmPort);
    // warm both caches: every forwarded name once, then check the stub saw each name from both
    for (const p of [oursPort, dmPort]) {
      for (let i = 0; i < CACHED_N; i += 50)
        await Promise.all(
          Array.from({ length: 50 }, (_, j) => udpAsk(p, query(`w${i + j}.example.test`), 2000)),
        );
    }
    say(
      `ours: ${o.ours}; dnsmasq ${spawnSync('dnsmasq', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}; ${SECONDS} s per run`,
    );
    // the serving process (the engine may re-exec itself with a heap cap): its pid from /status
    const status = JSON.parse(await (await fetch(`http://127.0.0.1:${adminPort}/status`)).text());
    const oursPid = Number(status.pid);
    const dnsStatus = (
      status.components as Array<{ name: string; status?: { threads?: { running?: number } } }>
    ).find((c) => c.name === 'dns')?.status;
    const threads = Number(dnsStatus?.threads?.running ?? 1);
    const lo = measured(oursPid, oursPort, localFile, SECONDS);
    const ld = measured(dm.pid!, dmPort, localFile, SECONDS);
    const co = measured(oursPid, oursPort, cachedFile, SECONDS);
    const cd = measured(dm.pid!, dmPort, cachedFile, SECONDS);
    // p99 at one offered load for both servers, below either's saturation: at saturation the
    // latency is the length of dnsperf's queue (100 outstanding queries) over the server's QPS,
    // i.e. the QPS ratio again; that figure is kept as p99_saturated_*
    const P99_S = Math.min(SECONDS, 3);
    const offered = Math.max(1000, Math.round(Math.min(co.qps, cd.qps) / 2000) * 1000);
    const floor = FLOOR ? await measureFloor(threads, cachedFile) : undefined;
    const r = {
      local_qps: lo.qps,
      local_qps_dnsmasq: ld.qps,
      cached_qps: co.qps,
      cached_qps_dnsmasq: cd.qps,
      /** server CPU time per answered query (user + system, every thread), in microseconds */
      local_cpu_us: lo.cpuUs,
      local_cpu_us_dnsmasq: ld.cpuUs,
      cached_cpu_us: co.cpuUs,
      cached_cpu_us_dnsmasq: cd.cpuUs,
      p99_ms: p99(dnsperf(oursPort, cachedFile, P99_S, true, offered)),
      p99_ms_dnsmasq: p99(dnsperf(dmPort, cachedFile, P99_S, true, offered)),
      /** the rate (dnsperf -Q) both p99 runs offered: half the slower server's cache-hit QPS */
      p99_offered_qps: offered,
      /** p99 with dnsperf unthrottled (both servers saturated: queueing behind dnsperf's 100 outstanding queries) */
      p99_saturated_ms: p99(dnsperf(oursPort, cachedFile, P99_S, true)),
      p99_saturated_ms_dnsmasq: p99(dnsperf(dmPort, cachedFile, P99_S, true)),
      ...(floor
        ? { floor_qps: floor.qps, floor_cpu_us: floor.cpuUs, floor_threads: threads, floor_node: floor.node }
        : {}),
      threads,
      upstream_queries: stub.total,
      ours: o.ours,
      seconds: SECONDS,
      clients: CLIENTS,
      workers: WORKERS ?? 'auto',
      loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
      command: `dnsperf -s 127.0.0.1 -p PORT -c ${CLIENTS} -d FILE -l ${SECONDS} (p99: -v -l ${P99_S} -Q ${offered}; saturated: -v -l ${P99_S})`,
    };
    if (!JSON_ONLY) {
      say(
        `local   qps  ours ${r.local_qps.toFixed(0).padStart(8)}   dnsmasq ${r.local_qps_dnsmasq.toFixed(0).padStart(8)}   ratio ${(r.local_qps / r.local_qps_dnsmasq).toFixed(2)}`,
      );
      say(
        `cached  qps  ours ${r.cached_qps.toFixed(0).padStart(8)}   dnsmasq ${r.cached_qps_dnsmasq.toFixed(0).padStart(8)}   ratio ${(r.cached_qps / r.cached_qps_dnsmasq).toFixed(2)}`,
      );
      if (floor)
        say(
          `floor   qps  node ${floor.qps.toFixed(0).padStart(8)}   dnsmasq ${r.cached_qps_dnsmasq.toFixed(0).padStart(8)}   ratio ${(floor.qps / r.cached_qps_dnsmasq).toFixed(2)}   (minimal Node responder, ${threads} thread(s), ${floor.cpuUs} µs/query)`,
        );
      say(
        `cpu µs/query ours ${r.local_cpu_us} (local) ${r.cached_cpu_us} (cached)   dnsmasq ${r.local_cpu_us_dnsmasq} (local) ${r.cached_cpu_us_dnsmasq} (cached)`,
      );
      say(
        `p99 ms       ours ${String(r.p99_ms).padStart(8)}   dnsmasq ${String(r.p99_ms_dnsmasq).padStart(8)}   ratio ${(r.p99_ms / r.p99_ms_dnsmasq).toFixed(2)}   (both offered ${offered} q/s)`,
      );
      say(
        `p99 ms sat.  ours ${String(r.p99_saturated_ms).padStart(8)}   dnsmasq ${String(r.p99_saturated_ms_dnsmasq).padStart(8)}   ratio ${(r.p99_saturated_ms / r.p99_saturated_ms_dnsmasq).toFixed(2)}   (dnsperf unthrottled)`,
      );
    }
    process.stdout.write(`${JSON.stringify(r, null, JSON_ONLY ? 0 : 2)}\n`);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await stub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
