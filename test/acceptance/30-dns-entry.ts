// Stand-alone process around the DNS component for the acceptance tests, bundled by
// 30-dns-lib.ts with esbuild (like the engine bundle) and run on plain Node, so RSS figures
// are those of a real process, not of a test runner with a TypeScript loader.
// argv[2]: JSON { dns, stateDir, snapshot, budgetBytes }. stdout: one JSON line when ready,
// one per SIGUSR2 (status + metrics) and one on SIGTERM before exiting 0.
import { readFileSync } from 'node:fs';
import { createDnsComponent } from '../../engine/src/dns/index.ts';
import { createLogger } from '../../engine/src/log/logger.ts';
import type { ComponentContext } from '../../engine/src/supervisor/component.ts';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const log = createLogger({ level: 'info' });
const ac = new AbortController();
const ctx: ComponentContext = {
  log, signal: ac.signal, budgetBytes: () => cfg.budgetBytes,
  budgets: () => ({ dns: cfg.budgetBytes }) as unknown as ReturnType<ComponentContext['budgets']>,
  unconfigured: () => {}, degraded: (r) => log.warn('degraded', { reason: r }), healthy: () => {},
  fail: (e) => { log.error('failed', { error: e }); process.exit(70); },
};
const dns = createDnsComponent(cfg.dns, { stateDir: cfg.stateDir, snapshot: cfg.snapshot ?? true });
const report = (event: string) => {
  const m = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ event, status: dns.status?.(), metrics: dns.metrics?.(), rss: m.rss, heapUsed: m.heapUsed, memory: m })}\n`);
};
dns.start(ctx).then(() => report('ready'), (err) => { log.error('start failed', { error: err }); process.exit(1); });
process.on('SIGUSR2', () => report('status'));
process.on('SIGTERM', () => { void dns.stop(2000).then(() => { report('stopped'); process.exit(0); }); });
