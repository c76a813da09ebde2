// One UDP worker thread (started by workers.ts; bundled on its own by scripts/bundle.ts and
// embedded in the engine as a string, since a single executable has no file to load a worker
// from). It binds every listen address with SO_REUSEPORT beside the main thread, so the kernel
// spreads clients over the threads, and answers local records and fresh cache hits itself
// (fastpath.ts, the same code as the main thread). Everything else — misses, stale entries,
// malformed packets — goes to the main thread as the raw datagram; the main thread answers it
// from its own socket on the same address and sends every entry it stores back to all workers.
// Counters live in a SharedArrayBuffer the main thread reads for /metrics.
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { DnsCache, entrySize, type CacheEntry } from './cache.ts';
import { newCounters, quickAnswer, type MemoryAnswerer } from './fastpath.ts';
import { LocalData } from './local.ts';
import type { Query } from './wire.ts';
import type { LocalRecord } from './options.ts';
import { aclAllows, literalLookup, makeAcl } from './server.ts';
import { SLOT, STRIDE, type FromWorker, type ToWorker, type WireEntry } from './worker-protocol.ts';

export interface WorkerInit {
  /** 1..n-1 (0 is the main thread): the row in `stats` */
  index: number;
  /** listen addresses with the port the main thread really bound */
  listen: Array<{ host: string; port: number }>;
  records: LocalRecord[];
  hostsFile: string | null;
  allowFrom: string[];
  ednsUdpSize: number;
  prefetch: boolean;
  staleMaxS: number;
  budgetBytes: number;
  stats: SharedArrayBuffer;
}

/** A cache entry as the main thread sent it (worker-protocol.ts WireEntry). */
export function entryFromWire(w: WireEntry): [string, CacheEntry] {
  const [key, bytes, questionEnd, ttlOffsets, storedAt, ttlS, negative] = w;
  const e: CacheEntry = {
    wire: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    ttlOffsets,
    questionEnd,
    storedAt,
    ttlS,
    negative,
    fixed: false,
    hits: 0,
    size: 0,
  };
  e.size = entrySize(key, e);
  return [key, e];
}

export function runDnsWorker(): void {
  const port = parentPort;
  if (!port) throw new Error('dns worker: not started as a worker thread');
  const init = workerData as WorkerInit;
  const row = new Float64Array(init.stats, init.index * STRIDE * 8, STRIDE);
  const post = (m: FromWorker) => port.postMessage(m);
  let d: MemoryAnswerer;
  let acl: ReturnType<typeof makeAcl>;
  try {
    d = {
      opts: { ednsUdpSize: init.ednsUdpSize, prefetch: init.prefetch },
      // only staleMaxS matters to a replica: entries come in with their TTLs already clamped
      cache: new DnsCache(init.budgetBytes, {
        minTtlS: 0,
        maxTtlS: 0,
        negativeTtlS: 0,
        negativeMaxTtlS: 0,
        staleMaxS: init.staleMaxS,
      }),
      local: new LocalData(init.records, init.hostsFile),
      counters: newCounters(),
    };
    acl = makeAcl(init.allowFrom);
  } catch (err) {
    post({ t: 'fail', error: (err as Error).message, code: (err as { code?: string }).code });
    return;
  }
  const c = d.counters;
  const cache = d.cache;
  let received = 0;
  let forwarded = 0;
  const publish = () => {
    row[SLOT.received] = received;
    row[SLOT.queries] = c.queries;
    row[SLOT.localAnswers] = c.localAnswers;
    row[SLOT.hits] = c.hits;
    row[SLOT.negativeHits] = c.negativeHits;
    row[SLOT.truncated] = c.truncated;
    row[SLOT.refusedAcl] = c.refusedAcl;
    row[SLOT.forwarded] = forwarded;
    row[SLOT.cacheBytes] = cache.bytes;
    row[SLOT.cacheEntries] = cache.entries;
  };
  // a popular entry near expiry: the main thread refreshes it (the new entry comes back as a
  // put); asked once per key, not once per hit
  const asked = new Set<string>();
  let lastMsg: Buffer | undefined;
  const prefetch = (q: Query) => {
    if (asked.has(q.key) || !lastMsg) return;
    if (asked.size >= 1024) asked.clear();
    asked.add(q.key);
    post({ t: 'pf', m: lastMsg });
  };

  const sockets: dgram.Socket[] = [];
  port.on('message', (m: ToWorker) => {
    if (m.t === 'put') {
      for (const w of m.e) {
        const [k, e] = entryFromWire(w);
        cache.set(k, e);
        asked.delete(k);
      }
    } else if (m.t === 'resize') {
      cache.resize(m.b);
    }
    publish();
  });

  let bound = 0;
  init.listen.forEach(({ host, port: p }, i) => {
    const opts = {
      type: isIPv6(host) ? 'udp6' : 'udp4',
      reusePort: true,
      lookup: literalLookup,
    } as dgram.SocketOptions;
    const s = dgram.createSocket(opts);
    sockets.push(s);
    s.once('error', (err) =>
      post({
        t: 'fail',
        error: `cannot bind ${host}:${p}: ${err.message}`,
        code: (err as NodeJS.ErrnoException).code,
      }),
    );
    s.bind(p, host, () => {
      s.removeAllListeners('error');
      s.on('error', () => {
        /* a send to a vanished client: nothing to do, as on the main thread */
      });
      s.on('message', (msg, rinfo) => {
        received++;
        if (acl && !aclAllows(acl, rinfo.address)) {
          c.refusedAcl++;
          publish();
          return;
        }
        lastMsg = msg;
        const out = quickAnswer(d, msg, prefetch);
        if (!out) forwarded++;
        publish(); // before answering: whoever got the answer sees the counters that include it
        if (out) s.send(out, rinfo.port, rinfo.address);
        else post({ t: 'q', i, m: msg, p: rinfo.port, a: rinfo.address });
      });
      if (++bound === init.listen.length) post({ t: 'ready' });
    });
  });
}
