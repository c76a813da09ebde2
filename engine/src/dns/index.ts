// The DNS component: wires options, local data, the byte-bounded cache, the upstream pool and
// the UDP/TCP server behind the supervisor's Component interface, and owns the warm-restart
// snapshot (loaded on start, saved every snapshotIntervalS and on stop), and the UDP worker
// threads of dns.workers (workers.ts: the budget is split between the threads' caches, the
// counters summed). main.ts creates it with
// createDnsComponent(config.dns, { stateDir, snapshot: config.caches.dnsSnapshot }).
import { join } from 'node:path';
import type { Component, ComponentContext, MetricSample } from '../supervisor/component.ts';
import { DnsCache } from './cache.ts';
import type { DnsCounters } from './fastpath.ts';
import { LocalData } from './local.ts';
import { dnsMetrics } from './metrics.ts';
import { dnsOptions, systemUpstreams, type DnsOptions, type DnsSection } from './options.ts';
import { Resolver } from './resolver.ts';
import { DnsServer, makeAcl } from './server.ts';
import { loadSnapshot, saveSnapshot, saveSnapshotAsync } from './snapshot.ts';
import { UpstreamPool } from './upstream.ts';
import { BUNDLED_WORKER_SOURCE, DnsWorkers, reusePortWorks, workerCount } from './workers.ts';

export { type DnsOptions } from './options.ts';

export interface DnsComponentDeps {
  stateDir: string;
  /** caches.dnsSnapshot: keep the cache across restarts */
  snapshot: boolean;
  /** resolv.conf used when no upstream is configured (tests point it elsewhere) */
  resolvConf?: string;
  /** code of the UDP worker bundle; default: the one scripts/bundle.ts embedded (none from source) */
  workerSource?: string | null;
}

export const SNAPSHOT_FILE = 'dns-cache.snapshot';
const HEALTH_CHECK_MS = 5000;

/** `section` is config.dns (engine/src/config/types.ts DnsConfig) or a partial of it in tests. */
export function createDnsComponent(section: DnsSection, deps: DnsComponentDeps): Component {
  let opts: DnsOptions | undefined;
  let server: DnsServer | undefined;
  let resolver: Resolver | undefined;
  let pool: UpstreamPool | undefined;
  let cache: DnsCache | undefined;
  let local: LocalData | undefined;
  let ctx: ComponentContext | undefined;
  let workers: DnsWorkers | undefined;
  let threads = { n: 1, why: '' };
  /** the whole DNS budget (memory policy); each thread's cache holds budget / threads */
  let totalBudget = 0;
  const timers: NodeJS.Timeout[] = [];
  const snap = { loaded: 0, lastSavedAt: null as string | null, lastError: null as string | null };

  const saved = (why: string, bytes: number) => {
    snap.lastSavedAt = new Date().toISOString();
    ctx?.log.debug('dns snapshot saved', { file: opts?.snapshotFile, bytes, entries: cache?.entries, why });
  };
  const notSaved = (err: unknown) => {
    snap.lastError = (err as Error).message;
    ctx?.log.warn('dns snapshot not saved', {
      file: opts?.snapshotFile,
      error: err as Error,
      code: 'EDGEWAN_ERR_DNS_SNAPSHOT_WRITE',
    });
  };
  /** the periodic save in flight (asynchronous; at most one at a time) */
  let periodic: Promise<void> | null = null;
  const savePeriodic = () => {
    if (!opts?.snapshotFile || !cache || periodic) return;
    periodic = saveSnapshotAsync(opts.snapshotFile, cache)
      .then((b) => saved('periodic', b), notSaved)
      .finally(() => {
        periodic = null;
      });
  };
  /** on stop: after any periodic save in flight, synchronously (the process may exit next) */
  const save = async (why: string) => {
    if (periodic) await periodic;
    if (!opts?.snapshotFile || !cache) return;
    try {
      saved(why, saveSnapshot(opts.snapshotFile, cache));
    } catch (err) {
      notSaved(err);
    }
  };

  const startWorkers = async (c: ComponentContext, source: string) => {
    const srv = server!;
    const res = resolver!;
    const o = opts!;
    const w = new DnsWorkers(
      source,
      {
        listen: [...srv.endpoints],
        records: o.records,
        hostsFile: o.hostsFile,
        allowFrom: o.allowFrom,
        ednsUdpSize: o.ednsUdpSize,
        prefetch: o.prefetch,
        staleMaxS: o.serveStale ? o.staleMaxS : 0,
        budgetBytes: cache!.budgetBytes,
      },
      threads.n,
      {
        query: (i, msg, port, address) => server?.answerForWorker(i, msg, port, address),
        prefetch: (msg) => resolver?.prefetchQuery(msg),
        entries: () => cache!.all(),
      },
      c.log,
    );
    res.onStore = (k, e) => w.store(k, e);
    const up = await w.start();
    if (up === 0) {
      // no worker came up (logged by DnsWorkers): this thread alone, with the whole budget
      res.onStore = null;
      await w.stop();
      threads = { n: 1, why: 'no worker thread started' };
      cache!.resize(totalBudget);
      return;
    }
    workers = w;
  };

  /** Counters summed over the main thread and the workers. */
  const counters = (): DnsCounters => {
    const t = { ...resolver!.counters };
    if (workers) {
      t.queries += workers.sum('queries');
      t.localAnswers += workers.sum('localAnswers');
      t.hits += workers.sum('hits');
      t.negativeHits += workers.sum('negativeHits');
      t.truncated += workers.sum('truncated');
      t.refusedAcl += workers.sum('refusedAcl');
    }
    return t;
  };
  const cacheFigures = () => ({
    entries: cache!.entries + (workers?.sum('cacheEntries') ?? 0),
    bytes: cache!.bytes + (workers?.sum('cacheBytes') ?? 0),
    budgetBytes: totalBudget,
  });
  const perThread = () => [
    server?.received ?? 0,
    ...Array.from({ length: threads.n - 1 }, (_, i) => workers?.row(i + 1, 'received') ?? 0),
  ];

  return {
    name: 'dns',
    async start(c) {
      ctx = c;
      if (!section.enabled) {
        c.unconfigured('dns.enabled is false');
        return;
      }
      opts = dnsOptions(section, deps.snapshot ? join(deps.stateDir, SNAPSHOT_FILE) : null);
      const upstreams = opts.upstreams.length
        ? opts.upstreams
        : systemUpstreams(opts.listen, deps.resolvConf);
      pool = new UpstreamPool(upstreams, {
        timeoutMs: opts.upstreamTimeoutMs,
        attempts: opts.upstreamAttempts,
        maxInflight: opts.maxInflight,
        ednsUdpSize: opts.ednsUdpSize,
      });
      const source = deps.workerSource !== undefined ? deps.workerSource : BUNDLED_WORKER_SOURCE;
      threads = workerCount(
        opts.workers,
        opts.workers === 1 ? false : await reusePortWorks(),
        source,
        c.budgets().limitBytes ?? Infinity,
      );
      // every thread keeps a replica of the cache: each gets an equal share of the one budget
      totalBudget = c.budgetBytes();
      cache = new DnsCache(Math.floor(totalBudget / threads.n), opts);
      local = new LocalData(opts.records, opts.hostsFile);
      if (opts.snapshotFile) {
        try {
          const entries = loadSnapshot(opts.snapshotFile, Date.now(), opts.serveStale ? opts.staleMaxS : 0);
          for (const [k, e] of entries) cache.set(k, e);
          snap.loaded = entries.length;
          if (entries.length)
            c.log.info('dns cache restored', { file: opts.snapshotFile, entries: entries.length });
        } catch (err) {
          c.log.warn('dns snapshot ignored', {
            file: opts.snapshotFile,
            error: err as Error,
            code: (err as { code?: string }).code,
            hint: 'it is replaced at the next save',
          });
        }
      }
      resolver = new Resolver(opts, cache, local, pool, c.log);
      server = new DnsServer(resolver, makeAcl(opts.allowFrom), c.log, threads.n > 1);
      try {
        await server.listen(opts.listen);
      } catch (err) {
        pool.close();
        server = undefined;
        throw Object.assign(
          new Error(`dns: cannot listen on ${opts.listen.join(', ')}: ${(err as Error).message}`, {
            cause: err,
          }),
          { code: 'EDGEWAN_ERR_DNS_LISTEN' },
        );
      }
      if (threads.n > 1) await startWorkers(c, source!);
      c.log.info('dns listening', {
        listen: server.bound,
        upstreams,
        localRecords: local.count,
        budgetBytes: totalBudget,
        threads: threads.n,
        threadsWhy: threads.why,
      });
      if (upstreams.length === 0) c.degraded('no upstream resolver: only local data is answered');
      if (opts.snapshotFile && opts.snapshotIntervalS > 0) {
        timers.push(setInterval(savePeriodic, opts.snapshotIntervalS * 1000).unref());
      }
      let wasDown = false;
      timers.push(
        setInterval(() => {
          const h = pool!.health();
          const down = h.length > 0 && h.every((u) => !u.up);
          if (down !== wasDown) {
            if (down) c.degraded('every upstream resolver is failing');
            else c.healthy();
          }
          wasDown = down;
        }, HEALTH_CHECK_MS).unref(),
      );
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      timers.length = 0;
      if (resolver) resolver.onStore = null;
      await workers?.stop();
      workers = undefined;
      try {
        await server?.close();
      } catch {
        /* closing is best effort */
      }
      pool?.close();
      await save('stop');
      server = undefined;
    },
    status() {
      if (!opts || !cache || !pool || !resolver) return { enabled: !!section.enabled };
      return {
        enabled: true,
        listen: server?.bound ?? [],
        upstreams: pool.health(),
        cache: cacheFigures(),
        localRecords: local?.count ?? 0,
        threads: {
          configured: opts.workers,
          running: 1 + (workers?.running ?? 0),
          of: threads.n,
          why: threads.why,
          restarts: workers?.restarts ?? 0,
          datagrams: perThread(),
          handedToMain: workers?.sum('forwarded') ?? 0,
        },
        counters: { ...counters(), ...pool.counters },
        tcp: server
          ? { connections: server.tcpConnections, queuedBytes: server.tcpQueuedBytes, ...server.tcpStats }
          : null,
        snapshot: {
          file: opts.snapshotFile,
          restoredEntries: snap.loaded,
          lastSavedAt: snap.lastSavedAt,
          lastError: snap.lastError,
        },
      };
    },
    metrics(): MetricSample[] {
      if (!resolver || !pool || !cache) return [];
      return dnsMetrics(counters(), pool, cacheFigures(), perThread());
    },
    resize(budget) {
      totalBudget = budget;
      const share = Math.floor(budget / threads.n);
      cache?.resize(share);
      workers?.resize(share);
    },
  };
}
