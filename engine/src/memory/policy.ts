// Memory policy: the limit the engine lives within ("auto" = the cgroup's, else a share of
// physical memory), the byte budgets derived from it per component, and the V8 heap cap
// (floor(0.5 x limit) MiB, docs/contract.md "Memory limit and heap cap"). Pure functions over explicit
// inputs (file-system roots are parameters) so tests can fake cgroup trees.
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import type { ConfigProblem } from '../config/errors.ts';
import type { MemoryConfig } from '../config/types.ts';
import { formatBytes } from '../../size.ts';
import { heapCapMiB } from '../../contract.ts';

export const MIN_LIMIT = 32 * 1024 * 1024;
/**
 * The largest limit accepted: 1 TiB, beyond any machine the engine is packaged for. Its heap
 * cap (512 GiB) is a --max-old-space-size V8 takes; without a bound a limit such as
 * "99999999999999GiB" became --max-old-space-size=5.12e+22 and V8 refused to start (exit 9).
 */
export const MAX_LIMIT = 2 ** 40;
/** Without a cgroup limit the engine takes this share of physical memory. */
export const PHYSICAL_SHARE = 0.25;
/** Budgets may take at most this share of what the runtime leaves (shareBase); the rest is stacks, V8 overhead and garbage. */
export const BUDGET_SHARE = 0.75;
/**
 * What the runtime keeps resident before any budget is spent, and which no budget can
 * shrink: the executable's file pages it touched and the idle anonymous memory (V8 heap,
 * libraries, thread stacks). Measured idle, before any traffic (docs/tunnel.md "Memory with
 * 1,000 streams"): VmRSS 51–55 MB for the bundle on Node 20 (40–43 MB of it the `node`
 * binary's file pages), more for the x64 executable on Node 24 (51 MB file-backed).
 * A constant, not a measurement at start, so budgets and the exit-78 checks come out the same
 * for `check-config`, `run` and after a reload.
 */
export const RUNTIME_RESERVE = 48 * 1024 * 1024;
/** Shares never apply to less than this share of the limit (small limits, see shareBase). */
export const SHARE_BASE_MIN = 0.25;
/** cgroup "no limit" values are near 2^63; anything above this is treated as unlimited. */
const UNLIMITED = 2 ** 60;

export type LimitSource = 'config' | 'cgroup-v2' | 'cgroup-v1' | 'physical';

export interface MemoryLimit {
  bytes: number;
  source: LimitSource;
}

export interface Budgets {
  readonly limitBytes: number;
  readonly limitSource: LimitSource;
  readonly heapCapMiB: number;
  readonly chunkMemory: number;
  readonly dns: number;
  readonly buffers: number;
}
export type BudgetName = 'chunkMemory' | 'dns' | 'buffers';
export const BUDGET_NAMES: readonly BudgetName[] = ['chunkMemory', 'dns', 'buffers'];

export interface CgroupRoots {
  proc: string;
  sys: string;
  totalmem: () => number;
}
export const REAL_ROOTS: CgroupRoots = { proc: '/proc', sys: '/sys/fs/cgroup', totalmem };

function readNumber(file: string): number | undefined {
  try {
    const t = readFileSync(file, 'utf8').trim();
    if (t === 'max') return Infinity;
    const n = Number(t);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Smallest limit on the path from the process's cgroup up to the mount root (limits nest). */
function smallestUpwards(base: string, cgPath: string, file: string): number | undefined {
  const parts = cgPath.split('/').filter(Boolean);
  let best: number | undefined;
  for (let n = parts.length; n >= 0; n -= 1) {
    const v = readNumber(join(base, ...parts.slice(0, n), file));
    if (v !== undefined && (best === undefined || v < best)) best = v;
  }
  return best;
}

/** The cgroup memory limit of this process (v2 first, then v1), or undefined when unlimited. */
export function cgroupLimit(roots: CgroupRoots = REAL_ROOTS): MemoryLimit | undefined {
  let lines: string[];
  try {
    lines = readFileSync(join(roots.proc, 'self/cgroup'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  for (const line of lines) {
    const m = /^0::(.*)$/.exec(line);
    if (m) {
      // pure v2 mounts at the root; the hybrid layout mounts v2 at unified/ (no memory there)
      for (const base of [roots.sys, join(roots.sys, 'unified')]) {
        const v = smallestUpwards(base, m[1], 'memory.max');
        if (v !== undefined && v < UNLIMITED) return { bytes: v, source: 'cgroup-v2' };
      }
    }
  }
  for (const line of lines) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m || !m[1].split(',').includes('memory')) continue;
    const v = smallestUpwards(join(roots.sys, 'memory'), m[2], 'memory.limit_in_bytes');
    if (v !== undefined && v < UNLIMITED) return { bytes: v, source: 'cgroup-v1' };
  }
  return undefined;
}

/** The limit to live within for a config value. */
export function resolveLimit(limit: MemoryConfig['limit'], roots: CgroupRoots = REAL_ROOTS): MemoryLimit {
  if (limit !== 'auto') return { bytes: limit, source: 'config' };
  const cg = cgroupLimit(roots);
  const physical = Math.floor(roots.totalmem() * PHYSICAL_SHARE);
  if (cg && cg.bytes <= roots.totalmem()) return cg;
  return { bytes: physical, source: 'physical' };
}

/** The heap cap for a memory limit: the package contract's (engine/contract.ts), which init scripts and units compute too. */
export { heapCapMiB };

/**
 * What the shares of memory.split are shares of: the limit minus the runtime's reserve,
 * i.e. what is really left for caches and buffers (48 MiB of a 96 MiB limit), but at least
 * a quarter of the limit (a 32 MiB limit still gets 8 MiB to split).
 */
export function shareBase(limitBytes: number): number {
  return Math.max(Math.floor(SHARE_BASE_MIN * limitBytes), limitBytes - RUNTIME_RESERVE);
}

/** Budgets for a limit, or the problems that make the split impossible (exit 78). */
export function computeBudgets(
  limit: MemoryLimit,
  split: MemoryConfig['split'],
): { budgets?: Budgets; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const L = limit.bytes;
  if (!(L <= MAX_LIMIT)) {
    return {
      problems: [
        {
          code: 'EDGEWAN_ERR_CONFIG_MEMORY_LIMIT',
          pointer: '/memory/limit',
          value: L,
          message: `memory limit ${L} bytes (${limit.source}) is above the engine's maximum`,
          allowed: `at most ${formatBytes(MAX_LIMIT)} (e.g. "512MiB", or "auto" for the cgroup's limit)`,
        },
      ],
    };
  }
  if (L < MIN_LIMIT) {
    problems.push({
      code: 'EDGEWAN_ERR_CONFIG_MEMORY_LIMIT',
      pointer: '/memory/limit',
      value: L,
      message: `memory limit ${formatBytes(L)} (${limit.source}) is below the engine's minimum`,
      allowed: `at least ${formatBytes(MIN_LIMIT)}`,
    });
  }
  const base = shareBase(L);
  const bytesOf = (v: number) => Math.floor(v <= 1 ? v * base : v);
  const b = {
    chunkMemory: bytesOf(split.chunkMemory),
    dns: bytesOf(split.dns),
    buffers: bytesOf(split.buffers),
  };
  const heapCap = heapCapMiB(L);
  const total = b.chunkMemory + b.dns + b.buffers;
  if (total > BUDGET_SHARE * base) {
    problems.push({
      code: 'EDGEWAN_ERR_CONFIG_BUDGET',
      pointer: '/memory/split',
      value: split,
      message: `budgets add up to ${formatBytes(total)}, more than ${BUDGET_SHARE * 100}% of the ${formatBytes(base)} the runtime leaves of the ${formatBytes(L)} limit (${limit.source})`,
      allowed: `a total of at most ${formatBytes(Math.floor(BUDGET_SHARE * base))}: lower the split or raise memory.limit`,
    });
  }
  if (b.chunkMemory + b.dns > heapCap * 1024 * 1024) {
    problems.push({
      code: 'EDGEWAN_ERR_CONFIG_BUDGET',
      pointer: '/memory/split',
      value: split,
      message: `chunkMemory + dns = ${formatBytes(b.chunkMemory + b.dns)} live in the V8 heap but the heap cap is ${heapCap} MiB`,
      allowed: `chunkMemory + dns of at most ${heapCap} MiB`,
    });
  }
  if (problems.length) return { problems };
  return { budgets: { limitBytes: L, limitSource: limit.source, heapCapMiB: heapCap, ...b }, problems };
}

/** True when NODE_OPTIONS already sets the V8 heap size (then the engine never re-execs). */
export function hasHeapFlag(nodeOptions: string | undefined): boolean {
  return /(^|\s)--max-old-space-size(=|\s+)\d+/.test(nodeOptions ?? '');
}
