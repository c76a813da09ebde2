// The engine's state as one JSON document (/status) and as metric samples (/metrics): build
// facts, uptime, memory (limit, heap cap, budgets, usage), components (state, restarts,
// budget, what each reports), plus a short in-memory history for the status page's charts.
import { getHeapStatistics } from 'node:v8';
import { VERSION, COMMIT } from '../buildinfo.ts';
import type { Budgets } from '../memory/policy.ts';
import type { MetricSample } from '../supervisor/component.ts';
import type { ChildInfo } from '../supervisor/supervisor.ts';

export interface StatusDeps {
  role: () => string;
  startedAt: number;
  budgets: () => Budgets;
  components: () => ChildInfo[];
  ready: () => boolean;
  restartsInPeriod: () => number;
  now?: () => number;
}

export interface EngineStatus {
  version: string;
  commit: string;
  runtime: string;
  arch: string;
  pid: number;
  role: string;
  ready: boolean;
  uptimeS: number;
  time: string;
  memory: {
    limitBytes: number;
    limitSource: string;
    heapCapBytes: number;
    /** What V8 itself enforces: proof that the heap cap reached it (docs/platform-notes.md §7). */
    v8HeapLimitBytes: number;
    rssBytes: number;
    heapUsedBytes: number;
    heapTotalBytes: number;
    externalBytes: number;
    budgets: { chunkMemory: number; dns: number; buffers: number };
  };
  supervisor: { restartsInPeriod: number };
  components: Array<{
    name: string;
    state: string;
    reason: string | null;
    restarts: number;
    lastError: string | null;
    sinceS: number;
    budgetBytes: number;
    status: Record<string, unknown>;
  }>;
  /** Samples every HISTORY_STEP_MS: times (ms) and named series, oldest first. */
  history: { t: number[]; series: Record<string, number[]> };
}

export const HISTORY_STEP_MS = 2000;
const HISTORY_LEN = 300; // 10 minutes at HISTORY_STEP_MS
const MAX_SERIES = 48; // 48 x 300 numbers: ~115 KB at most

export class StatusSource {
  private readonly now: () => number;
  private readonly hist: { t: number[]; series: Map<string, number[]> } = { t: [], series: new Map() };

  constructor(private readonly deps: StatusDeps) {
    this.now = deps.now ?? Date.now;
  }

  status(): EngineStatus {
    const now = this.now();
    const mem = process.memoryUsage();
    const b = this.deps.budgets();
    return {
      version: VERSION,
      commit: COMMIT,
      runtime: `node-${process.version}`,
      arch: process.arch,
      pid: process.pid,
      role: this.deps.role(),
      ready: this.deps.ready(),
      uptimeS: Math.floor((now - this.deps.startedAt) / 1000),
      time: new Date(now).toISOString(),
      memory: {
        limitBytes: b.limitBytes,
        limitSource: b.limitSource,
        heapCapBytes: b.heapCapMiB * 1024 * 1024,
        v8HeapLimitBytes: getHeapStatistics().heap_size_limit,
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        heapTotalBytes: mem.heapTotal,
        externalBytes: mem.external,
        budgets: { chunkMemory: b.chunkMemory, dns: b.dns, buffers: b.buffers },
      },
      supervisor: { restartsInPeriod: this.deps.restartsInPeriod() },
      components: this.deps.components().map((c) => ({
        name: c.name,
        state: c.state,
        reason: c.reason,
        restarts: c.restarts,
        lastError: c.lastError,
        sinceS: Math.floor((now - c.sinceMs) / 1000),
        budgetBytes: c.budgetBytes,
        status: c.status,
      })),
      history: { t: [...this.hist.t], series: Object.fromEntries(this.hist.series) },
    };
  }

  /** Take one history sample (called every HISTORY_STEP_MS by the admin component). */
  sample(): void {
    const mem = process.memoryUsage();
    const values: Array<[string, number]> = [
      ['rss_bytes', mem.rss],
      ['heap_used_bytes', mem.heapUsed],
    ];
    for (const c of this.deps.components()) {
      for (const m of c.metrics) {
        if (m.labels?.edge) continue; // per-edge series (a fleet core) would crowd out the rest; the page's edge table shows them
        const labels = Object.entries(m.labels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        values.push([`${m.name}${labels ? `{${labels}}` : ''}`, m.value]);
      }
    }
    this.hist.t.push(this.now());
    const n = this.hist.t.length;
    for (const [k, v] of values) {
      let s = this.hist.series.get(k);
      if (!s) {
        if (this.hist.series.size >= MAX_SERIES) continue;
        s = new Array<number>(n - 1).fill(NaN);
        this.hist.series.set(k, s);
      }
      s.push(v);
    }
    for (const s of this.hist.series.values()) if (s.length < n) s.push(NaN);
    if (n > HISTORY_LEN) {
      this.hist.t.shift();
      for (const s of this.hist.series.values()) s.shift();
    }
  }

  metrics(): MetricSample[] {
    const st = this.status();
    const cpu = process.cpuUsage();
    const out: MetricSample[] = [
      {
        name: 'build_info',
        help: 'Build facts; always 1.',
        type: 'gauge',
        value: 1,
        labels: { version: st.version, commit: st.commit, runtime: st.runtime, arch: st.arch },
      },
      { name: 'ready', help: '1 when /readyz answers 200.', type: 'gauge', value: st.ready ? 1 : 0 },
      { name: 'uptime_seconds', help: 'Seconds since the engine started.', type: 'gauge', value: st.uptimeS },
      {
        name: 'process_cpu_seconds_total',
        help: 'User and system CPU time spent.',
        type: 'counter',
        value: (cpu.user + cpu.system) / 1e6,
      },
      {
        name: 'process_resident_memory_bytes',
        help: 'Resident set size.',
        type: 'gauge',
        value: st.memory.rssBytes,
      },
      {
        name: 'process_heap_used_bytes',
        help: 'V8 heap in use.',
        type: 'gauge',
        value: st.memory.heapUsedBytes,
      },
      {
        name: 'process_heap_total_bytes',
        help: 'V8 heap reserved.',
        type: 'gauge',
        value: st.memory.heapTotalBytes,
      },
      {
        name: 'process_external_memory_bytes',
        help: 'Memory of Buffers and other objects outside the V8 heap.',
        type: 'gauge',
        value: st.memory.externalBytes,
      },
      {
        name: 'memory_limit_bytes',
        help: 'Memory limit the engine lives within.',
        type: 'gauge',
        value: st.memory.limitBytes,
        labels: { source: st.memory.limitSource },
      },
      {
        name: 'memory_v8_heap_limit_bytes',
        help: 'Heap size limit V8 enforces (follows the heap cap via NODE_OPTIONS).',
        type: 'gauge',
        value: st.memory.v8HeapLimitBytes,
      },
      {
        name: 'memory_heap_cap_bytes',
        help: 'V8 heap cap derived from the limit (floor(0.5 x limit) MiB).',
        type: 'gauge',
        value: st.memory.heapCapBytes,
      },
      {
        name: 'supervisor_restarts_in_period',
        help: 'Restarts within the current intensity period (escalation above supervisor.maxRestarts).',
        type: 'gauge',
        value: st.supervisor.restartsInPeriod,
      },
    ];
    for (const [k, v] of Object.entries(st.memory.budgets)) {
      out.push({
        name: 'memory_budget_bytes',
        help: 'Byte budget per memory split entry.',
        type: 'gauge',
        value: v,
        labels: { budget: k },
      });
    }
    const STATES = ['starting', 'running', 'degraded', 'unconfigured', 'restarting', 'stopped', 'failed'];
    for (const c of this.deps.components()) {
      out.push({
        name: 'component_restarts_total',
        help: 'Restarts of a component since the engine started.',
        type: 'counter',
        value: c.restarts,
        labels: { component: c.name },
      });
      out.push({
        name: 'component_budget_bytes',
        help: 'Byte budget given to a component.',
        type: 'gauge',
        value: c.budgetBytes,
        labels: { component: c.name },
      });
      for (const s of STATES) {
        out.push({
          name: 'component_state',
          help: '1 for the current state of a component, 0 for the others.',
          type: 'gauge',
          value: c.state === s ? 1 : 0,
          labels: { component: c.name, state: s },
        });
      }
      out.push(...c.metrics);
    }
    return out;
  }
}
