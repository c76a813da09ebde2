// Shared by the 3x-dns acceptance tests: runs the real engine (test/helpers/engine.ts: the
// built x64 executable, required in CI) with DNS on, reads the DNS component's status from
// /status, and wraps the real `dig`, the memory numbers of /proc and a memory cgroup.
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startEngine, type RunningEngine } from '../helpers/engine.ts';

export interface DnsStatus {
  listen: string[];
  cache: { entries: number; bytes: number; budgetBytes: number };
  counters: Record<string, number>;
}
export interface Report { pid: number; state: string; status: DnsStatus; budgetBytes: number }

export interface DnsProc {
  port: number;
  engine: RunningEngine;
  proc: ChildProcess;
  /** pid of the process serving (the engine may re-exec itself with a heap cap) */
  pid: number;
  status(): Promise<Report>;
  stop(): Promise<number>;
}

/** The engine with `dns` (listen defaults to a free loopback port) plus any other config. */
export async function startDns(dns: Record<string, unknown>, config: Record<string, unknown> = {}): Promise<DnsProc> {
  const port = await freePort();
  const engine = await startEngine({ config: { ...config, dns: { enabled: true, listen: [`127.0.0.1:${port}`], ...dns } } });
  const status = async (): Promise<Report> => {
    const st = JSON.parse((await engine.get('/status')).body);
    const c = st.components.find((x: { name: string }) => x.name === 'dns');
    return { pid: st.pid, state: c.state, status: c.status, budgetBytes: c.budgetBytes };
  };
  const first = await status();
  if (!first.status.listen) throw new Error(`DNS is not serving: ${JSON.stringify(first)}\n${engine.output()}`);
  return { port, engine, proc: engine.proc, pid: first.pid, status, stop: () => engine.stop() };
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
export function memoryCgroup(name: string, limit: number): { add(pid: number): void; peak(): number; oomKills(): number; remove(): void } | null {
  const tries = [
    { base: '/sys/fs/cgroup', limitFile: 'memory.max', peakFile: 'memory.peak', events: 'memory.events' },
    { base: '/sys/fs/cgroup/unified', limitFile: 'memory.max', peakFile: 'memory.peak', events: 'memory.events' },
    { base: '/sys/fs/cgroup/memory', limitFile: 'memory.limit_in_bytes', peakFile: 'memory.max_usage_in_bytes', events: 'memory.oom_control' },
  ];
  for (const t of tries) {
    const dir = join(t.base, name);
    try {
      if (!existsSync(join(t.base, 'cgroup.procs'))) continue;
      if (t.limitFile === 'memory.max') {
        // v2: the memory controller must be enabled for children (fails harmlessly when it cannot be)
        try { writeFileSync(join(t.base, 'cgroup.subtree_control'), '+memory'); } catch { /* keep trying */ }
      }
      mkdirSync(dir);
      try { writeFileSync(join(dir, t.limitFile), String(limit)); } catch { rmdirSync(dir); continue; }
      const num = (f: string, key: string) => Number(new RegExp(`^${key} (\\d+)`, 'm').exec(readFileSync(join(dir, f), 'utf8'))?.[1] ?? 0);
      return {
        add: (pid: number) => {
          // v1 moves a process's existing charges only when asked to; v2 charges from now on
          try { writeFileSync(join(dir, 'memory.move_charge_at_immigrate'), '1'); } catch { /* v2 */ }
          writeFileSync(join(dir, 'cgroup.procs'), String(pid));
        },
        peak: () => (existsSync(join(dir, t.peakFile)) ? Number(readFileSync(join(dir, t.peakFile), 'utf8')) : NaN),
        oomKills: () => num(t.events, 'oom_kill'),
        remove: () => { try { rmdirSync(dir); } catch { /* still busy: left for the OS */ } },
      };
    } catch { /* not writable here */ }
  }
  return null;
}
