// `edgewan run --config FILE`: load and check the config (exit 78), get the heap cap to V8
// (re-exec), then start admin and the wired components under the supervisor, watch the memory
// limit, and handle signals: SIGTERM/SIGINT drain within graceS and exit 0, SIGHUP reloads
// (an invalid file is logged and the running config kept; watched files such as the revocation
// list are re-read either way), restart intensity exits 70.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, type LoadResult } from '../config/index.ts';
import type { ResolvedConfig } from '../config/types.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { REAL_ROOTS, type Budgets, type CgroupRoots } from '../memory/policy.ts';
import { needsReexec, reexecWithHeapCap } from '../memory/reexec.ts';
import { watchMemory } from '../memory/watch.ts';
import { Supervisor } from '../supervisor/supervisor.ts';
import { parseFaultSpec, standIn, withFault } from '../supervisor/fault.ts';
import type { Component } from '../supervisor/component.ts';
import { createAdmin } from '../admin/server.ts';
import { StatusSource } from '../admin/status.ts';
import { WIRINGS, type Wiring } from './wiring.ts';
import { EXIT } from '../../contract.ts';

/** Exit codes a service manager acts on (the package contract's, engine/contract.ts). */
export { EXIT };

/**
 * Test hooks (documented in docs/config.md, "Testing hook"): a fake cgroup tree and a faster
 * memory re-check, so the live-resize path can be exercised without changing a real cgroup.
 */
function testRoots(env: NodeJS.ProcessEnv): CgroupRoots {
  const dir = env.EDGEWAN_TEST_CGROUP_ROOT;
  return dir ? { ...REAL_ROOTS, proc: join(dir, 'proc'), sys: join(dir, 'sys') } : REAL_ROOTS;
}

export async function runCommand(file: string, env: NodeJS.ProcessEnv): Promise<number> {
  let loaded: LoadResult;
  try {
    loaded = loadConfig(file, { env, roots: testRoots(env) });
    prepareStateDir(loaded.config.stateDir);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(e.format());
      return EXIT.CONFIG;
    }
    throw e;
  }
  if (needsReexec(env)) return reexecWithHeapCap(loaded.budgets.heapCapMiB);
  return new Engine(loaded, env).run();
}

/** Create the state dir and prove it is writable (a read-only mount passes access() checks). */
function prepareStateDir(dir: string): void {
  const probe = join(dir, `.write-test-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError(null, [
      {
        code: 'EDGEWAN_ERR_CONFIG_STATE_DIR',
        pointer: '/stateDir',
        value: dir,
        message: `state directory is not writable (${err.code ?? err.message})`,
        allowed: 'a directory the service user can write',
      },
    ]);
  }
}

class Engine {
  private cfg: LoadResult;
  private budgets: Budgets;
  private readonly log: Logger;
  private readonly sup: Supervisor;
  private readonly source: StatusSource;
  private readonly fault: ReturnType<typeof parseFaultSpec>;
  private finish!: (code: number) => void;
  private shuttingDown = false;
  private stoppingSince = 0;

  constructor(
    loaded: LoadResult,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.cfg = loaded;
    this.fault = parseFaultSpec(env.EDGEWAN_TEST_FAIL);
    this.budgets = loaded.budgets;
    this.log = createLogger({ level: loaded.config.log.level });
    this.sup = new Supervisor({
      log: this.log,
      policy: () => this.cfg.config.supervisor,
      budgets: () => this.budgets,
      onEscalate: (reason) => void this.shutdown(EXIT.SOFTWARE, reason),
    });
    this.source = new StatusSource({
      role: () => this.cfg.config.role,
      startedAt: Date.now(),
      budgets: () => this.budgets,
      components: () => this.sup.snapshot(),
      ready: () => !this.sup.anyFailed(),
      restartsInPeriod: () => this.sup.restartsInPeriod(),
    });
  }

  run(): Promise<number> {
    const done = new Promise<number>((resolve) => {
      this.finish = resolve;
    });
    const c = this.cfg.config;
    this.log.info('engine starting', {
      config: this.cfg.file,
      role: c.role,
      env: this.cfg.envApplied,
      limitBytes: this.budgets.limitBytes,
      limitSource: this.budgets.limitSource,
      heapCapMiB: this.budgets.heapCapMiB,
      nodeOptions: this.env.NODE_OPTIONS ?? '',
    });
    process.on('uncaughtException', (err) => this.uncaught(err));
    process.on('unhandledRejection', (r) => this.uncaught(r instanceof Error ? r : new Error(String(r))));
    process.on('SIGTERM', () => void this.shutdown(EXIT.OK, 'SIGTERM'));
    process.on('SIGINT', () => void this.shutdown(EXIT.OK, 'SIGINT'));
    process.on('SIGHUP', () => this.reload());
    this.sup.add(this.admin(c));
    for (const w of WIRINGS) this.addWired(w, c);
    if (this.fault && !this.sup.names().includes(this.fault.name))
      this.sup.add(withFault(standIn(this.fault.name), this.fault));
    const stopWatch = watchMemory({
      log: this.log,
      memory: () => this.cfg.config.memory,
      current: () => this.budgets,
      roots: testRoots(this.env),
      intervalMs: Number(this.env.EDGEWAN_TEST_MEMORY_INTERVAL_MS) || undefined,
      apply: (b) => {
        this.budgets = b;
        this.sup.resize();
      },
    });
    return done.then((code) => {
      stopWatch();
      return code;
    });
  }

  private admin(c: ResolvedConfig): Component {
    const a = createAdmin({
      listen: c.admin.listen,
      token: c.admin.token,
      source: this.source,
      ready: () => !this.sup.anyFailed(),
    });
    return this.fault?.name === 'admin' ? withFault(a, this.fault) : a;
  }

  private addWired(w: Wiring, c: ResolvedConfig): void {
    const comp = w.create(c);
    if (!comp) return;
    this.sup.add(this.fault?.name === w.name ? withFault(comp, this.fault) : comp, { budget: w.budget });
  }

  private uncaught(err: Error): void {
    if (this.sup.faultInContext(err)) return;
    // not inside any component: the engine itself is broken; let the service manager restart it
    this.log.error('uncaught error outside any component', { error: err, stack: err.stack });
    void this.shutdown(EXIT.SOFTWARE, 'uncaught error');
  }

  private async shutdown(code: number, reason: string): Promise<void> {
    if (this.shuttingDown) {
      // a second signal stops waiting — unless it is the same signal delivered twice at once
      // (Ctrl-C reaches the whole process group, and a re-exec wrapper forwards it too)
      if ((reason === 'SIGTERM' || reason === 'SIGINT') && Date.now() - this.stoppingSince > 1000)
        this.finish(code);
      return;
    }
    this.shuttingDown = true;
    this.stoppingSince = Date.now();
    const graceMs = this.cfg.config.supervisor.graceS * 1000;
    this.log.info('engine stopping', { reason, graceMs, exitCode: code });
    // leave a margin inside the grace for process teardown
    const hard = setTimeout(() => this.finish(code), graceMs);
    await this.sup.stopAll(Math.max(0, graceMs - 250));
    clearTimeout(hard);
    this.log.info('engine stopped', { exitCode: code });
    this.finish(code);
  }

  private reload(): void {
    if (this.shuttingDown) return;
    this.sup.reloadFiles(); // files a running component watches (revocation list) are re-read either way
    const file = this.cfg.file;
    let next: LoadResult;
    try {
      next = loadConfig(file, { env: this.env, roots: testRoots(this.env) });
    } catch (e) {
      const problems = e instanceof ConfigError ? e.problems : [{ message: (e as Error).message }];
      this.log.error('reload rejected; keeping the running config', { config: file, problems });
      return;
    }
    const prev = this.cfg.config;
    const c = next.config;
    this.cfg = next;
    this.log.setLevel(c.log.level);
    if (next.budgets.limitBytes !== this.budgets.limitBytes) {
      this.budgets = { ...next.budgets, heapCapMiB: this.budgets.heapCapMiB };
      this.sup.resize();
    }
    const grace = c.supervisor.graceS * 1000;
    const changed: string[] = [];
    if (JSON.stringify(prev.admin) !== JSON.stringify(c.admin)) {
      changed.push('admin');
      void this.sup.replace('admin', this.admin(c), grace);
    }
    for (const w of WIRINGS) {
      if (JSON.stringify(w.section(prev)) === JSON.stringify(w.section(c))) continue;
      changed.push(w.name);
      const comp = w.create(c);
      if (!comp) void this.sup.remove(w.name, grace);
      else
        void this.sup.replace(
          w.name,
          this.fault?.name === w.name ? withFault(comp, this.fault) : comp,
          grace,
        );
    }
    this.log.info('config reloaded', { config: file, restarted: changed, logLevel: c.log.level });
  }
}
