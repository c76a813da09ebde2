// UDP worker threads for the DNS component (dns.workers). Node answers ~80-90k cache hits/s on
// one thread, most of it in the UDP send path, so the way past that is more threads on the same
// port: the main thread and n-1 workers each bind every listen address with SO_REUSEPORT and
// the kernel spreads clients (by address and port) over them. Workers answer local data and
// fresh cache hits (worker.ts); misses come back here as raw datagrams.
//
// Cache: every thread keeps its own replica. Entries are stored here (upstream answers,
// the snapshot) and copied to every worker, batched per event-loop turn; each replica —
// this thread's included — gets budget/n bytes, so the sum stays within the DNS budget.
// Counters: each worker writes its row of a SharedArrayBuffer after every datagram; /metrics
// adds them up synchronously. A worker that dies is restarted with backoff (its row keeps
// counting); after MAX_RESTARTS within RESTART_WINDOW_MS its slot stays empty, which only
// costs throughput: the kernel sends its share to the remaining sockets.
import dgram from 'node:dgram';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log/logger.ts';
import type { CacheEntry } from './cache.ts';
import type { WorkerInit } from './worker.ts';
import { SLOT, STRIDE, type FromWorker, type WireEntry } from './worker-protocol.ts';

declare const __EDGEWAN_DNS_WORKER__: string | undefined;
/** The worker bundle's code, stamped in by scripts/bundle.ts; null when running from source. */
export const BUNDLED_WORKER_SOURCE: string | null =
  typeof __EDGEWAN_DNS_WORKER__ === 'string' ? __EDGEWAN_DNS_WORKER__ : null;

const READY_TIMEOUT_MS = 10_000;
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

/** Whether this Node's dgram shares a port between sockets (reusePort: Node 22.12+/23.1+; ignored before). */
export async function reusePortWorks(): Promise<boolean> {
  const mk = () => dgram.createSocket({ type: 'udp4', reusePort: true } as dgram.SocketOptions);
  const a = mk();
  const b = mk();
  const bind = (s: dgram.Socket, port: number) =>
    new Promise<boolean>((res) => {
      s.once('error', () => res(false));
      s.bind(port, '127.0.0.1', () => res(true));
    });
  try {
    if (!(await bind(a, 0))) return false;
    return await bind(b, a.address().port);
  } finally {
    for (const s of [a, b])
      try {
        s.close();
      } catch {
        /* never bound */
      }
  }
}

/** memory.limit below which "auto" stays on one thread: a worker isolate costs ~10 MiB resident. */
export const AUTO_MIN_LIMIT = 128 * 2 ** 20;

/** How many threads answer UDP, and why (logged at start). limitBytes: memory.limit. */
export function workerCount(
  setting: number | 'auto',
  reusePort: boolean,
  source: string | null,
  limitBytes = Infinity,
): { n: number; why: string } {
  if (setting === 'auto' && limitBytes < AUTO_MIN_LIMIT)
    return { n: 1, why: `auto: memory.limit under ${AUTO_MIN_LIMIT / 2 ** 20} MiB` };
  const want = setting === 'auto' ? Math.min(2, availableParallelism()) : setting;
  if (want <= 1) return { n: 1, why: setting === 'auto' ? 'auto: one CPU' : 'dns.workers is 1' };
  if (!reusePort) return { n: 1, why: `node ${process.version} has no dgram reusePort` };
  if (source === null) return { n: 1, why: 'running from source: no worker bundle' };
  return { n: want, why: setting === 'auto' ? 'auto: min(2, CPUs)' : 'dns.workers' };
}

export function toWire(key: string, e: CacheEntry): WireEntry {
  return [key, e.wire, e.questionEnd, e.ttlOffsets, e.storedAt, e.ttlS, e.negative];
}

export interface WorkerHandlers {
  /** a datagram a worker could not answer: listen index, bytes, client port and address */
  query(i: number, msg: Buffer, port: number, address: string): void;
  prefetch(msg: Buffer): void;
  /** what a (re)started worker's replica starts with, most recently used first */
  entries(): Iterable<[string, CacheEntry]>;
}

interface Slot {
  worker: Worker | null;
  restarts: number[];
  timer: NodeJS.Timeout | null;
}

export class DnsWorkers {
  readonly stats: Float64Array;
  /** counters of workers that exited (a restarted worker counts from 0 again) */
  private readonly retired: Float64Array;
  private readonly sab: SharedArrayBuffer;
  private readonly slots: Slot[] = [];
  private pending: WireEntry[] = [];
  private flushing = false;
  private stopped = false;
  restarts = 0;

  /** init: everything but index and stats; n counts the main thread. */
  constructor(
    private readonly code: string,
    private init: Omit<WorkerInit, 'index' | 'stats'>,
    readonly n: number,
    private readonly handlers: WorkerHandlers,
    private readonly log: Logger,
  ) {
    this.sab = new SharedArrayBuffer(n * STRIDE * 8);
    this.stats = new Float64Array(this.sab);
    this.retired = new Float64Array(n * STRIDE);
    for (let i = 1; i < n; i++) this.slots.push({ worker: null, restarts: [], timer: null });
  }

  /** Starts every worker; resolves with how many came up (failures are logged, not thrown). */
  async start(): Promise<number> {
    const ok = await Promise.all(this.slots.map((_, k) => this.spawn(k + 1)));
    return ok.filter(Boolean).length;
  }

  private spawn(index: number): Promise<boolean> {
    const slot = this.slots[index - 1];
    // room for twice the replica's budget plus code and local data; a worker that outgrows it
    // dies with ERR_WORKER_OUT_OF_MEMORY and is restarted with an empty replica
    const heapMb = Math.max(10, Math.ceil((2 * this.init.budgetBytes) / 2 ** 20) + 8);
    let w: Worker;
    try {
      w = new Worker(this.code, {
        eval: true,
        workerData: { ...this.init, index, stats: this.sab } satisfies WorkerInit,
        // a small young generation: the hit path allocates little, and the main isolate's
        // --max-semi-space-size would otherwise give each worker up to 3 x 8 MiB of it
        resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 4 },
        stdout: false,
        stderr: false,
      });
    } catch (err) {
      this.log.warn('dns worker could not be created', { worker: index, error: err as Error });
      return Promise.resolve(false);
    }
    slot.worker = w;
    this.send(
      w,
      [...this.handlers.entries()].reverse().map(([k, e]) => toWire(k, e)),
    ); // oldest first: same recency
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const settle = (v: boolean) => {
        if (!settled) {
          settled = true;
          clearTimeout(t);
          resolve(v);
        }
      };
      const t = setTimeout(() => {
        this.log.warn('dns worker did not start in time', { worker: index });
        settle(false);
        void w.terminate();
      }, READY_TIMEOUT_MS);
      w.on('message', (m: FromWorker) => {
        if (m.t === 'q')
          this.handlers.query(m.i, Buffer.from(m.m.buffer, m.m.byteOffset, m.m.byteLength), m.p, m.a);
        else if (m.t === 'pf')
          this.handlers.prefetch(Buffer.from(m.m.buffer, m.m.byteOffset, m.m.byteLength));
        else if (m.t === 'ready') settle(true);
        else if (m.t === 'fail') {
          this.log.warn('dns worker failed to start', { worker: index, error: m.error, code: m.code });
          settle(false);
          void w.terminate();
        }
      });
      w.on('error', (err) => this.log.warn('dns worker crashed', { worker: index, error: err }));
      w.on('exit', (code) => {
        if (slot.worker === w) slot.worker = null;
        this.retire(index);
        if (!settled) {
          settle(false);
          return;
        }
        if (!this.stopped) this.restart(index, code);
      });
    });
  }

  /** Keeps a dead worker's counters; its cache is gone, so its bytes and entries drop to 0. */
  private retire(index: number): void {
    const o = index * STRIDE;
    for (let k = 0; k < STRIDE; k++) {
      if (k !== SLOT.cacheBytes && k !== SLOT.cacheEntries) this.retired[o + k] += this.stats[o + k];
      this.stats[o + k] = 0;
    }
  }

  private restart(index: number, code: number): void {
    const slot = this.slots[index - 1];
    const now = Date.now();
    slot.restarts = slot.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (slot.restarts.length >= MAX_RESTARTS) {
      this.log.error('dns worker keeps exiting: not restarted, its share goes to the other threads', {
        worker: index,
        exitCode: code,
        restarts: slot.restarts.length,
      });
      return;
    }
    slot.restarts.push(now);
    this.restarts++;
    const delay = 250 * 2 ** (slot.restarts.length - 1);
    this.log.warn('dns worker exited: restarting', { worker: index, exitCode: code, delayMs: delay });
    slot.timer = setTimeout(() => {
      slot.timer = null;
      if (!this.stopped) void this.spawn(index);
    }, delay);
    slot.timer.unref();
  }

  private send(w: Worker, e: WireEntry[]): void {
    // structured clone copies the bytes; chunks keep one message from holding a whole cache twice
    for (let i = 0; i < e.length; i += 4096) w.postMessage({ t: 'put', e: e.slice(i, i + 4096) });
  }

  /** An entry stored on the main thread: copied to every worker at the end of this event-loop turn. */
  store(key: string, e: CacheEntry): void {
    this.pending.push(toWire(key, e));
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      const batch = this.pending;
      this.pending = [];
      for (const s of this.slots) if (s.worker) this.send(s.worker, batch);
    });
  }

  resize(budgetBytes: number): void {
    this.init = { ...this.init, budgetBytes };
    for (const s of this.slots) s.worker?.postMessage({ t: 'resize', b: budgetBytes });
  }

  /** Live workers (the main thread not counted). */
  get running(): number {
    return this.slots.filter((s) => s.worker).length;
  }

  /** Sum of one counter over the worker rows. */
  sum(slot: keyof typeof SLOT): number {
    let t = 0;
    for (let i = 1; i < this.n; i++) t += this.row(i, slot);
    return t;
  }

  row(index: number, slot: keyof typeof SLOT): number {
    const o = index * STRIDE + SLOT[slot];
    return this.stats[o] + this.retired[o];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(
      this.slots.map(async (s) => {
        if (s.timer) clearTimeout(s.timer);
        const w = s.worker;
        s.worker = null;
        if (w) await w.terminate();
      }),
    );
  }
}
