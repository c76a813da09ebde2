// Live memory limit: a container's cap can change under a running engine (`docker update
// --memory`). For memory.limit "auto" the cgroup limit is re-read periodically; when it
// changes, budgets are recomputed and components resize their caches without a restart. The
// V8 heap cap cannot change in a running process: a warning says it applies after a restart.
import type { Logger } from '../log/logger.ts';
import type { MemoryConfig } from '../config/types.ts';
import { computeBudgets, resolveLimit, REAL_ROOTS, type Budgets, type CgroupRoots } from './policy.ts';

export interface MemoryWatchOptions {
  log: Logger;
  memory: () => MemoryConfig;
  current: () => Budgets;
  apply: (b: Budgets) => void;
  roots?: CgroupRoots;
  intervalMs?: number;
}

/** One check; returns the new budgets when they changed. Exposed for tests. */
export function checkMemory(opts: MemoryWatchOptions): Budgets | undefined {
  const mem = opts.memory();
  const cur = opts.current();
  const limit = resolveLimit(mem.limit, opts.roots ?? REAL_ROOTS);
  if (limit.bytes === cur.limitBytes && limit.source === cur.limitSource) return undefined;
  const { budgets, problems } = computeBudgets(limit, mem.split);
  if (!budgets) {
    opts.log.error('memory limit changed to an impossible value; keeping the current budgets', {
      limitBytes: limit.bytes,
      source: limit.source,
      problems: problems.map((p) => p.message),
    });
    return undefined;
  }
  // the heap cap is fixed for the life of the process; keep reporting the one in force
  const next: Budgets = { ...budgets, heapCapMiB: cur.heapCapMiB };
  opts.log.info('memory limit changed; resizing caches', {
    fromBytes: cur.limitBytes,
    toBytes: limit.bytes,
    source: limit.source,
  });
  if (budgets.heapCapMiB !== cur.heapCapMiB) {
    opts.log.warn('the V8 heap cap follows the new limit only after a restart', {
      heapCapMiB: cur.heapCapMiB,
      wantMiB: budgets.heapCapMiB,
    });
  }
  opts.apply(next);
  return next;
}

export function watchMemory(opts: MemoryWatchOptions): () => void {
  const t = setInterval(() => {
    try {
      checkMemory(opts);
    } catch (e) {
      opts.log.error('memory check failed', { error: e as Error });
    }
  }, opts.intervalMs ?? 15000);
  t.unref();
  return () => clearInterval(t);
}
