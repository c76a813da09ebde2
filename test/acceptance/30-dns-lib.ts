// Shared by the 3x-dns acceptance tests: runs the real engine (test/helpers/engine.ts: the
// built x64 executable, required in CI) with DNS on, reads the DNS component's status from
// /status, and wraps the real `dig`, the memory numbers of /proc and a memory cgroup.
import { execFile, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startEngine, type RunningEngine } from '../helpers/engine.ts';

export interface DnsStatus {
  listen: string[];
  cache: { entries: number; bytes: number; budgetBytes: number };
  counters: Record<string, number>;
}
export interface Report {
  pid: number;
  state: string;
  status: DnsStatus;
  budgetBytes: number;
}

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
export async function startDns(
  dns: Record<string, unknown>,
  config: Record<string, unknown> = {},
): Promise<DnsProc> {
  const port = await freePort();
  const engine = await startEngine({
    config: { ...config, dns: { enabled: true, listen: [`127.0.0.1:${port}`], ...dns } },
  });
  const status = async (): Promise<Report> => {
    const st = JSON.parse((await engine.get('/status')).body);
    const c = st.components.find((x: { name: string }) => x.name === 'dns');
    return { pid: st.pid, state: c.state, status: c.status, budgetBytes: c.budgetBytes };
  };
  const first = await status();
  if (!first.status.listen)
    throw new Error(`DNS is not serving: ${JSON.stringify(first)}\n${engine.output()}`);
  return { port, engine, proc: engine.proc, pid: first.pid, status, stop: () => engine.stop() };
}

/** Runs dig against 127.0.0.1:port; returns stdout. Async: the stub upstream lives in this process. */
export function dig(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'dig',
      ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=3', ...args],
      { encoding: 'utf8', timeout: 15_000 },
      (err, stdout, stderr) => {
        if (err && (err as { code?: unknown }).code !== 9)
          reject(new Error(`dig ${args.join(' ')} failed: ${stderr || stdout || err.message}`));
        else resolve(stdout);
      },
    );
  });
}

export function digStatus(out: string): string {
  return /status: (\w+)/.exec(out)?.[1] ?? 'none';
}
export function digFlags(out: string): string[] {
  return (/flags: ([a-z ]+);/.exec(out)?.[1] ?? '').trim().split(' ');
}
/** Answer-section records as [name, ttl, type, data]. */
export function digAnswers(out: string, section = 'ANSWER'): string[][] {
  const m = new RegExp(`;; ${section} SECTION:\\n([\\s\\S]*?)(\\n\\n|$)`).exec(out);
  if (!m) return [];
  return m[1]
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(/\s+/);
      return [f[0], f[1], f[3], f.slice(4).join(' ')];
    });
}

export function readProcStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(Vm\w+|Rss\w+):\s+(\d+) kB/.exec(l);
    if (m) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
}

export { memoryCgroup } from '../helpers/cgroup.ts';
