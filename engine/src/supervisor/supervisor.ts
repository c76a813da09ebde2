// One-for-one supervisor over Components (component.ts). A failed component (start rejects,
// ctx.fail(), or an uncaught exception raised in its async context) is stopped and restarted
// after an exponential backoff; more than maxRestarts restarts within periodS, across all
// components like an Erlang supervisor's intensity, escalates: onEscalate() makes the process
// exit 70 so systemd/procd/Docker restart it. Other components, the admin endpoint included,
// keep running while one restarts.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from '../log/logger.ts';
import type { BudgetName, Budgets } from '../memory/policy.ts';
import type { SupervisorConfig } from '../config/types.ts';
import type { Component, ComponentContext, ComponentState, MetricSample } from './component.ts';

export interface SupervisorOptions {
  log: Logger;
  /** Read on every decision so a reload changes the policy of a running supervisor. */
  policy: () => SupervisorConfig;
  budgets: () => Budgets;
  /** Restart intensity exceeded: the caller stops everything and exits 70. */
  onEscalate: (reason: string) => void;
  now?: () => number;
}

export interface ChildOptions {
  /** Budgets whose sum is this component's budgetBytes(). */
  budget?: readonly BudgetName[];
}

export interface ChildInfo {
  name: string;
  state: ComponentState;
  reason: string | null;
  restarts: number;
  lastError: string | null;
  sinceMs: number;
  budgetBytes: number;
  status: Record<string, unknown>;
  metrics: MetricSample[];
}

interface Child {
  component: Component;
  opts: ChildOptions;
  state: ComponentState;
  reason: string | null;
  restarts: number;
  consecutive: number;
  lastError: string | null;
  since: number;
  startedAt: number;
  generation: number;
  ac: AbortController;
  timer?: NodeJS.Timeout;
  removed: boolean;
}

export class Supervisor {
  private readonly children: Child[] = [];
  private readonly recent: number[] = [];
  private readonly als = new AsyncLocalStorage<Child>();
  private stopping = false;
  private escalated = false;
  private readonly now: () => number;

  constructor(private readonly opts: SupervisorOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The component whose async context is running (for uncaught-exception attribution). */
  current(): string | undefined {
    return this.als.getStore()?.component.name;
  }

  /** Route a fault raised inside a component's async context; false when none owns it. */
  faultInContext(err: Error): boolean {
    const ch = this.als.getStore();
    if (!ch || ch.removed) return false;
    this.failed(ch, ch.generation, err);
    return true;
  }

  add(component: Component, opts: ChildOptions = {}): void {
    const ch: Child = {
      component,
      opts,
      state: 'stopped',
      reason: null,
      restarts: 0,
      consecutive: 0,
      lastError: null,
      since: this.now(),
      startedAt: 0,
      generation: 0,
      ac: new AbortController(),
      removed: false,
    };
    this.children.push(ch);
    if (!this.stopping) void this.startChild(ch);
  }

  /** Replace a component (config reload): stop the old one, start the new one in its place. */
  async replace(name: string, next: Component, graceMs: number): Promise<void> {
    const i = this.children.findIndex((c) => c.component.name === name && !c.removed);
    if (i < 0) {
      this.add(next);
      return;
    }
    const old = this.children[i];
    await this.retire(old, graceMs);
    const opts = old.opts;
    this.children.splice(i, 1);
    this.add(next, opts);
  }

  async remove(name: string, graceMs: number): Promise<void> {
    const i = this.children.findIndex((c) => c.component.name === name && !c.removed);
    if (i < 0) return;
    await this.retire(this.children[i], graceMs);
    this.children.splice(i, 1);
  }

  names(): string[] {
    return this.children.map((c) => c.component.name);
  }

  /** Stop every component, last added first, within graceMs overall. Never rejects. */
  async stopAll(graceMs: number): Promise<void> {
    this.stopping = true;
    const deadline = this.now() + graceMs;
    for (const ch of [...this.children].reverse()) {
      await this.retire(ch, Math.max(0, deadline - this.now()));
    }
  }

  /** New budgets (the cgroup limit changed): tell every component that can resize. */
  resize(): void {
    for (const ch of this.children) {
      if (!ch.component.resize || ch.state === 'stopped' || ch.state === 'failed') continue;
      try {
        this.als.run(ch, () => ch.component.resize!(this.budgetOf(ch)));
      } catch (e) {
        this.failed(ch, ch.generation, e as Error);
      }
    }
  }

  /** SIGHUP: every running component that watches files re-reads them. */
  reloadFiles(): void {
    for (const ch of this.children) {
      if (!ch.component.reloadFiles || ch.state === 'stopped' || ch.state === 'failed' || ch.removed)
        continue;
      try {
        this.als.run(ch, () => ch.component.reloadFiles!());
      } catch (e) {
        this.failed(ch, ch.generation, e as Error);
      }
    }
  }

  snapshot(): ChildInfo[] {
    return this.children.map((ch) => ({
      name: ch.component.name,
      state: ch.state,
      reason: ch.reason,
      restarts: ch.restarts,
      lastError: ch.lastError,
      sinceMs: ch.since,
      budgetBytes: this.budgetOf(ch),
      status: safe(() => ch.component.status?.() ?? {}, {}),
      metrics: safe(() => ch.component.metrics?.() ?? [], []),
    }));
  }

  /** Failures counted towards the intensity limit within the current period. */
  restartsInPeriod(): number {
    const cut = this.now() - this.opts.policy().periodS * 1000;
    return this.recent.filter((t) => t > cut).length;
  }

  /** /readyz: false when any component has failed. */
  anyFailed(): boolean {
    return this.children.some((c) => c.state === 'failed');
  }

  private budgetOf(ch: Child): number {
    const b = this.opts.budgets();
    return (ch.opts.budget ?? []).reduce((sum, k) => sum + b[k], 0);
  }

  private setState(ch: Child, state: ComponentState, reason: string | null = null): void {
    if (ch.state !== state) ch.since = this.now();
    if (ch.state !== state || ch.reason !== reason) {
      this.opts.log.info('component state', {
        component: ch.component.name,
        state,
        reason: reason ?? undefined,
      });
    }
    ch.state = state;
    ch.reason = reason;
  }

  private context(ch: Child, gen: number): ComponentContext {
    const live = () => gen === ch.generation && !ch.removed && !this.stopping;
    return {
      log: this.opts.log.child({ component: ch.component.name }),
      signal: ch.ac.signal,
      budgetBytes: () => this.budgetOf(ch),
      budgets: () => this.opts.budgets(),
      degraded: (reason) => {
        if (live()) this.setState(ch, 'degraded', reason);
      },
      healthy: () => {
        if (live() && ch.state !== 'starting') this.setState(ch, 'running');
      },
      unconfigured: (reason) => {
        if (live()) this.setState(ch, 'unconfigured', reason);
      },
      fail: (err) => this.failed(ch, gen, err),
    };
  }

  private async startChild(ch: Child): Promise<void> {
    ch.generation += 1;
    const gen = ch.generation;
    ch.ac = new AbortController();
    this.setState(ch, 'starting');
    try {
      await this.als.run(ch, () => ch.component.start(this.context(ch, gen)));
      if (gen !== ch.generation || ch.removed) return;
      ch.startedAt = this.now();
      if (ch.state === 'starting') this.setState(ch, 'running');
    } catch (e) {
      this.failed(ch, gen, e instanceof Error ? e : new Error(String(e)));
    }
  }

  private failed(ch: Child, gen: number, err: Error): void {
    if (this.stopping || this.escalated || gen !== ch.generation || ch.removed) return;
    ch.generation += 1; // later reports from the dead instance are ignored
    const now = this.now();
    const policy = this.opts.policy();
    const code = (err as { code?: unknown }).code;
    ch.lastError = `${typeof code === 'string' ? `${code}: ` : ''}${err.message}`;
    ch.ac.abort();
    // a component that ran a whole period without failing starts its backoff afresh
    if (ch.startedAt && now - ch.startedAt > policy.periodS * 1000) ch.consecutive = 0;
    ch.consecutive += 1;
    this.recent.push(now);
    while (this.recent.length && this.recent[0] <= now - policy.periodS * 1000) this.recent.shift();
    this.opts.log.error('component failed', {
      component: ch.component.name,
      error: ch.lastError,
      restartsInPeriod: this.recent.length,
    });
    if (this.recent.length > policy.maxRestarts) {
      this.escalated = true;
      this.setState(ch, 'failed', ch.lastError);
      const reason = `more than ${policy.maxRestarts} restarts within ${policy.periodS} s (last: ${ch.component.name}: ${ch.lastError})`;
      void safeStop(ch.component, 0).then(() => this.opts.onEscalate(reason));
      return;
    }
    const delay = Math.min(policy.backoffMs.initial * 2 ** (ch.consecutive - 1), policy.backoffMs.max);
    ch.restarts += 1;
    this.setState(ch, 'restarting', `${ch.lastError}; restart in ${delay} ms`);
    const next = ch.generation;
    void safeStop(ch.component, Math.min(1000, policy.graceS * 1000)).then(() => {
      if (ch.removed || this.stopping || next !== ch.generation) return;
      ch.timer = setTimeout(() => {
        ch.timer = undefined;
        void this.startChild(ch);
      }, delay);
    });
  }

  private async retire(ch: Child, graceMs: number): Promise<void> {
    ch.removed = true;
    ch.generation += 1;
    if (ch.timer) clearTimeout(ch.timer);
    ch.ac.abort();
    await safeStop(ch.component, graceMs);
    ch.state = 'stopped';
  }
}

async function safeStop(c: Component, graceMs: number): Promise<void> {
  // stop() must never reject, but a component bug must not block shutdown either
  let t: NodeJS.Timeout | undefined;
  const cap = new Promise<void>((res) => {
    t = setTimeout(res, graceMs + 250);
  });
  try {
    await Promise.race([
      Promise.resolve()
        .then(() => c.stop(graceMs))
        .catch(() => undefined),
      cap,
    ]);
  } finally {
    clearTimeout(t);
  }
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}
