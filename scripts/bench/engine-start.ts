// `npm run bench:engine-start [-- --exe PATH --runs N]`: cold start of the engine executable to
// /readyz = 200 and its idle RSS after 3 s, with the shipped default config (edge, no peer,
// DNS off) and a 128 MiB memory limit, in two modes: NODE_OPTIONS preset (what systemd/procd
// packages do) and unset (the engine re-execs itself with the heap flags, as in images).
// Prints a table and one JSON document; no assertions (benchmarks are not tests).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const opt = (n: string, d: string) => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : d;
};
const EXE = opt('--exe', join(ROOT, 'dist/bin/edgewan-linux-x64'));
const RUNS = Math.min(20, Number(opt('--runs', '5')));
const IDLE_MS = 3000;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function status(port: number, path: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ code: 0, body: '' }));
    req.on('timeout', () => req.destroy());
  });
}

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

interface Sample {
  startMs: number;
  idleRssMiB: number;
  processes: number;
}

async function once(reexec: boolean): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'ewB-bench-'));
  const port = await freePort();
  const cfg = join(dir, 'edgewan.json');
  const def = JSON.parse(readFileSync(join(ROOT, 'engine/schema/default-config.json'), 'utf8'));
  writeFileSync(
    cfg,
    JSON.stringify({
      ...def,
      stateDir: join(dir, 'state'),
      memory: { limit: '128MiB' },
      admin: { listen: `127.0.0.1:${port}` },
    }),
  );
  const env = { ...process.env, NODE_OPTIONS: reexec ? '' : '--max-old-space-size=64' };
  const t0 = process.hrtime.bigint();
  const child = spawn(EXE, ['run', '--config', cfg], { env, stdio: 'ignore' });
  let startMs = NaN;
  for (let i = 0; i < 2000; i += 1) {
    if ((await status(port, '/readyz')).code === 200) {
      startMs = Number(process.hrtime.bigint() - t0) / 1e6;
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, IDLE_MS));
  // in wrapper mode (no process.execve) the parent waits beside the engine: count both
  const enginePid = JSON.parse((await status(port, '/status')).body || '{}').pid as number | undefined;
  const pids = new Set([child.pid!, enginePid ?? child.pid!]);
  const idleRssMiB = [...pids].reduce((s, p) => s + rssKiB(p), 0) / 1024;
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return { startMs, idleRssMiB, processes: pids.size };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function main(): Promise<void> {
  if (!existsSync(EXE)) {
    process.stderr.write(`${EXE} not found: run "npm run build" (or pass --exe PATH)\n`);
    process.exitCode = 1;
    return;
  }
  const results: Record<string, unknown> = {
    exe: EXE,
    runs: RUNS,
    idleMs: IDLE_MS,
    node: process.version,
    modes: {},
  };
  const rows: string[] = [
    '| mode | start to /readyz=200 ms (min / median / max) | idle RSS MiB (median) | processes |',
    '|---|---|---|---|',
  ];
  for (const reexec of [false, true]) {
    const samples: Sample[] = [];
    for (let i = 0; i < RUNS; i += 1) samples.push(await once(reexec));
    const st = samples.map((s) => s.startMs);
    const mode = reexec ? 'NODE_OPTIONS unset (re-exec)' : 'NODE_OPTIONS preset';
    const summary = {
      startMs: { min: Math.min(...st), median: median(st), max: Math.max(...st) },
      idleRssMiB: median(samples.map((s) => s.idleRssMiB)),
      processes: samples[0].processes,
      samples,
    };
    (results.modes as Record<string, unknown>)[mode] = summary;
    rows.push(
      `| ${mode} | ${summary.startMs.min.toFixed(0)} / ${summary.startMs.median.toFixed(0)} / ${summary.startMs.max.toFixed(0)} | ${summary.idleRssMiB.toFixed(1)} | ${summary.processes} |`,
    );
  }
  process.stdout.write(`${rows.join('\n')}\n\n${JSON.stringify(results, null, 2)}\n`);
}

await main();
