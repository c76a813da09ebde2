// A memory cgroup for tests and benchmarks: a real kernel limit (v2 memory.max or v1
// memory.limit_in_bytes) around a process, with its peak charge and OOM-kill count. Used by
// the DNS flood test and bench:tunnel's 1,000-stream step.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryCgroup {
  /** write a pid here (e.g. `sh -c 'echo $$ > FILE; exec …'`) so the process is charged from its first page */
  procsFile: string;
  add(pid: number): void;
  peak(): number;
  oomKills(): number;
  remove(): void;
}

/** A fresh memory cgroup limited to `limit` bytes (v2 memory.max or v1 limit_in_bytes), or null when none can be made. */
export function memoryCgroup(name: string, limit: number): MemoryCgroup | null {
  const tries = [
    { base: '/sys/fs/cgroup', limitFile: 'memory.max', peakFile: 'memory.peak', events: 'memory.events' },
    {
      base: '/sys/fs/cgroup/unified',
      limitFile: 'memory.max',
      peakFile: 'memory.peak',
      events: 'memory.events',
    },
    {
      base: '/sys/fs/cgroup/memory',
      limitFile: 'memory.limit_in_bytes',
      peakFile: 'memory.max_usage_in_bytes',
      events: 'memory.oom_control',
    },
  ];
  for (const t of tries) {
    const dir = join(t.base, name);
    try {
      if (!existsSync(join(t.base, 'cgroup.procs'))) continue;
      if (t.limitFile === 'memory.max') {
        // v2: the memory controller must be enabled for children (fails harmlessly when it cannot be)
        try {
          writeFileSync(join(t.base, 'cgroup.subtree_control'), '+memory');
        } catch {
          /* keep trying */
        }
      }
      mkdirSync(dir);
      try {
        writeFileSync(join(dir, t.limitFile), String(limit));
      } catch {
        rmdirSync(dir);
        continue;
      }
      const num = (f: string, key: string) =>
        Number(new RegExp(`^${key} (\\d+)`, 'm').exec(readFileSync(join(dir, f), 'utf8'))?.[1] ?? 0);
      return {
        procsFile: join(dir, 'cgroup.procs'),
        add: (pid: number) => {
          // v1 moves a process's existing charges only when asked to; v2 charges from now on
          try {
            writeFileSync(join(dir, 'memory.move_charge_at_immigrate'), '1');
          } catch {
            /* v2 */
          }
          writeFileSync(join(dir, 'cgroup.procs'), String(pid));
        },
        peak: () =>
          existsSync(join(dir, t.peakFile)) ? Number(readFileSync(join(dir, t.peakFile), 'utf8')) : NaN,
        oomKills: () => num(t.events, 'oom_kill'),
        remove: () => {
          try {
            rmdirSync(dir);
          } catch {
            /* still busy: left for the OS */
          }
        },
      };
    } catch {
      /* not writable here */
    }
  }
  return null;
}
