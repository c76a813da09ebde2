// The one lifecycle every engine part implements (admin, tunnel, forwards, socks, dns).
// The supervisor starts components, restarts a failed one with backoff, and escalates to
// exit code 70 past the restart intensity. Only main.ts wires concrete components.

import type { Logger } from '../log/logger.ts';
import type { Budgets } from '../memory/policy.ts';

/**
 * running      serving normally
 * degraded     serving with reduced function (e.g. dedup off, upstream down); /readyz stays 200
 * unconfigured nothing to do with the current config (e.g. no tunnel peer); /readyz stays 200
 * starting / restarting / stopped  transitional
 * failed       gave up or crashed; /readyz turns 503
 */
export type ComponentState =
  'starting' | 'running' | 'degraded' | 'unconfigured' | 'restarting' | 'stopped' | 'failed';

/** One Prometheus sample; the admin endpoint renders HELP/TYPE and the edgewan_ prefix. */
export interface MetricSample {
  /** without the edgewan_ prefix, e.g. "dns_queries_total" */
  name: string;
  help: string;
  /**
   * summary/histogram: give each series its full name (`…_seconds_sum`, `…_seconds_count`,
   * `…_bucket` with an `le` label); they are grouped under one HELP/TYPE for the base name.
   */
  type: 'counter' | 'gauge' | 'summary' | 'histogram';
  value: number;
  labels?: Record<string, string>;
}

export interface ComponentContext {
  readonly log: Logger;
  /** Aborted when the component must stop (shutdown or before a restart). */
  readonly signal: AbortSignal;
  /** Byte budget for this component's caches and buffers, from the memory policy. */
  budgetBytes(): number;
  /** Every budget (chunkMemory, dns, buffers, heap cap) when a component needs more than one. */
  budgets(): Budgets;
  /** Nothing to do with the current config (e.g. no tunnel peer); /readyz stays 200. */
  unconfigured(reason: string): void;
  /** Report reduced function; the supervisor shows it in /status and /metrics. */
  degraded(reason: string): void;
  /** Back to full function after degraded(). */
  healthy(): void;
  /** A fatal runtime fault: the supervisor stops this component and restarts it with backoff. */
  fail(err: Error): void;
}

export interface Component {
  readonly name: string;
  /** Resolve once serving (or 'unconfigured' is reported); reject when start fails. */
  start(ctx: ComponentContext): Promise<void>;
  /** Stop accepting, drain for at most graceMs, release every resource. Never rejects. */
  stop(graceMs: number): Promise<void>;
  /** Component-specific facts for /status (JSON-serialisable). */
  status?(): Record<string, unknown>;
  /** Component metrics for /metrics. */
  metrics?(): MetricSample[];
  /** The memory budget changed (cgroup limit changed at run time): shrink or grow caches live. */
  resize?(budgetBytes: number): void;
  /** SIGHUP reached a component that keeps running: re-read the files it watches (e.g. a revocation list). */
  reloadFiles?(): void;
}
