// Shared by the 3x-dns acceptance tests: runs the DNS component as its own Node process
// (30-dns-entry.ts bundled with esbuild, Node 18 target like the engine bundle), talks to it
// through stdout lines and signals, and wraps the real `dig`.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as esbuild from 'esbuild';

const ROOT = join(import.meta.dirname, '../..');
let bundled: string | undefined;

export async function bundleEntry(): Promise<string> {
  if (bundled) return bundled;
  const out = join(mkdtempSync(join(tmpdir(), 'ewD-bundle-')), 'dns-entry.cjs');
  await esbuild.build({
    absWorkingDir: ROOT, entryPoints: ['test/acceptance/30-dns-entry.ts'], outfile: out, bundle: true,
    platform: 'node', format: 'cjs', target: 'node18', logLevel: 'silent',
  });
  bundled = out;
  return out;
}

export interface DnsProc {
  port: number;
  proc: ChildProcess;
  stderr: string[];
  status(): Promise<Report>;
  stop(): Promise<Report>;
}
export interface Report {
  event: string; rss: number; heapUsed: number;
  status: { listen: string[]; cache: { entries: number; bytes: number; budgetBytes: number }; counters: Record<string, number> };
  metrics: Array<{ name: string; value: number; labels?: Record<string, string> }>;
}

/** cgroupProcs: a cgroup's procs file the process joins before exec (so all its memory is charged there). */
export async function startDns(cfg: { dns: Record<string, unknown>; stateDir: string; budgetBytes: number; snapshot?: boolean }, nodeArgs: string[] = [], cgroupProcs?: string): Promise<DnsProc> {
  const entry = await bundleEntry();
  const cfgFile = join(cfg.stateDir, 'dns-test-config.json');
  writeFileSync(cfgFile, JSON.stringify(cfg));
  const argv = [process.execPath, ...nodeArgs, entry, cfgFile];
  const proc = cgroupProcs
    ? spawn('sh', ['-c', 'echo $$ > "$0" && exec "$@"', cgroupProcs, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (l) => stderr.push(l));
  const waiting: Array<(r: Report) => void> = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => { const w = waiting.shift(); if (w) w(JSON.parse(l)); });
  const next = () => new Promise<Report>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`dns process did not report; stderr:\n${stderr.join('\n')}`)), 15_000);
    waiting.push((r) => { clearTimeout(t); res(r); });
  });
  const ready = await next();
  return {
    port: Number(ready.status.listen[0].split(':').pop()), proc, stderr,
    status: () => { const p = next(); proc.kill('SIGUSR2'); return p; },
    stop: async () => {
      const p = next(); proc.kill('SIGTERM');
      const r = await p;
      await new Promise((res) => (proc.exitCode !== null ? res(null) : proc.once('exit', res)));
      return r;
    },
  };
}

/** Runs dig against 127.0.0.1:port; returns stdout. Async: the stub upstream lives in this process. */
export function dig(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=3', ...args], { encoding: 'utf8', timeout: 15_000 }, (err, stdout, stderr) => {
      if (err && (err as { code?: unknown }).code !== 9) reject(new Error(`dig ${args.join(' ')} failed: ${stderr || stdout || err.message}`));
      else resolve(stdout);
    });
  });
}

export function digStatus(out: string): string { return /status: (\w+)/.exec(out)?.[1] ?? 'none'; }
export function digFlags(out: string): string[] { return (/flags: ([a-z ]+);/.exec(out)?.[1] ?? '').trim().split(' '); }
/** Answer-section records as [name, ttl, type, data]. */
export function digAnswers(out: string, section = 'ANSWER'): string[][] {
  const m = new RegExp(`;; ${section} SECTION:\\n([\\s\\S]*?)(\\n\\n|$)`).exec(out);
  if (!m) return [];
  return m[1].split('\n').filter(Boolean).map((l) => { const f = l.split(/\s+/); return [f[0], f[1], f[3], f.slice(4).join(' ')]; });
}

export function readProcStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(Vm\w+|Rss\w+):\s+(\d+) kB/.exec(l);
    if (m) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
}

/** A fresh memory cgroup limited to `limit` bytes (v2 memory.max or v1 limit_in_bytes), or null when none can be made. */
export function memoryCgroup(name: string, limit: number): { procs: string; peak(): number; oomKills(): number; remove(): void } | null {
  const tries = [
    { base: '/sys/fs/cgroup', limitFile: 'memory.max', peakFile: 'memory.peak', events: 'memory.events' },
    { base: '/sys/fs/cgroup/unified', limitFile: 'memory.max', peakFile: 'memory.peak', events: 'memory.events' },
    { base: '/sys/fs/cgroup/memory', limitFile: 'memory.limit_in_bytes', peakFile: 'memory.max_usage_in_bytes', events: 'memory.oom_control' },
  ];
  for (const t of tries) {
    const dir = join(t.base, name);
    try {
      if (!existsSync(join(t.base, 'cgroup.procs'))) continue;
      mkdirSync(dir);
      try { writeFileSync(join(dir, t.limitFile), String(limit)); } catch { rmdirSync(dir); continue; }
      const num = (f: string, key: string) => Number(new RegExp(`^${key} (\\d+)`, 'm').exec(readFileSync(join(dir, f), 'utf8'))?.[1] ?? 0);
      return {
        procs: join(dir, 'cgroup.procs'),
        peak: () => (existsSync(join(dir, t.peakFile)) ? Number(readFileSync(join(dir, t.peakFile), 'utf8')) : NaN),
        oomKills: () => num(t.events, 'oom_kill'),
        remove: () => { try { rmdirSync(dir); } catch { /* still busy: left for the OS */ } },
      };
    } catch { /* not writable here */ }
  }
  return null;
}
