// Query handling, transport-free: bytes in, bytes (or nothing) out. Order: local data
// (authoritative) → cache (fresh hit, or RFC 8767 stale when upstreams fail) → upstream,
// with identical in-flight questions coalesced onto one upstream query. Hits return
// synchronously so the UDP path never allocates a promise for them.
import type { Logger } from '../log/logger.ts';
import { makeEntry, remainingS, render, type CacheEntry, type DnsCache } from './cache.ts';
import type { LocalData } from './local.ts';
import type { DnsOptions } from './options.ts';
import type { UpstreamPool } from './upstream.ts';
import {
  MalformedError, parseQuery, shortReply, RCODE_FORMERR, RCODE_NOTIMP, RCODE_SERVFAIL, type Query,
} from './wire.ts';

export interface DnsCounters {
  queries: number; localAnswers: number; hits: number; negativeHits: number; misses: number;
  staleAnswers: number; upstreamFailures: number; coalesced: number; prefetches: number;
  truncated: number; malformed: number; refusedAcl: number; servfail: number;
}

export function newCounters(): DnsCounters {
  return {
    queries: 0, localAnswers: 0, hits: 0, negativeHits: 0, misses: 0, staleAnswers: 0, upstreamFailures: 0,
    coalesced: 0, prefetches: 0, truncated: 0, malformed: 0, refusedAcl: 0, servfail: 0,
  };
}

export type Answer = Buffer | null | Promise<Buffer | null>;

export class Resolver {
  readonly counters = newCounters();
  private readonly inflight = new Map<string, Promise<CacheEntry | null>>();

  constructor(
    private readonly opts: DnsOptions,
    readonly cache: DnsCache,
    private readonly local: LocalData,
    private readonly pool: UpstreamPool,
    private readonly log: Logger,
  ) {}

  /** tcp: no size limit on the answer; udp: truncate with TC above the client's limit. */
  answer(msg: Buffer, tcp: boolean): Answer {
    this.counters.queries++;
    let q: Query;
    try {
      q = parseQuery(msg);
    } catch (err) {
      this.counters.malformed++;
      if (!(err instanceof MalformedError)) throw err;
      // a parseable header that is a query gets FORMERR; anything else is dropped silently
      if (msg.length < 12 || msg[2] & 0x80) return null;
      return shortReply(msg, { id: msg.readUInt16BE(0), flags: msg.readUInt16BE(2), plainQuestion: false, ednsSize: 0, dnssecOk: false } as Query, RCODE_FORMERR);
    }
    if (q.flags & 0x8000) { this.counters.malformed++; return null; } // a response sent to a server
    if ((q.flags >> 11 & 0x0f) !== 0) return shortReply(msg, q, RCODE_NOTIMP);
    const limit = tcp ? 65535 : q.ednsSize > 0 ? Math.min(q.ednsSize, this.opts.ednsUdpSize) : 512;
    const now = Date.now();

    const loc = this.local.empty ? null : this.local.lookup(q.name, q.qtype, q.qclass, q.key);
    if (loc) { this.counters.localAnswers++; return this.fit(render(loc, msg, q, now, null, this.opts.ednsUdpSize), msg, q, limit); }

    const key = q.key;
    const e = this.cache.get(key, now);
    if (e) {
      const left = remainingS(e, now);
      if (left > 0) {
        e.hits++;
        this.counters.hits++;
        if (e.negative) this.counters.negativeHits++;
        if (this.opts.prefetch && e.hits >= 2 && left < e.ttlS / 10) this.prefetch(key, q);
        return this.fit(render(e, msg, q, now, null, this.opts.ednsUdpSize), msg, q, limit);
      }
    }
    this.counters.misses++;
    return this.fetch(key, q).then((fresh) => {
      const t = Date.now();
      if (fresh) return this.fit(render(fresh, msg, q, t, null, this.opts.ednsUdpSize), msg, q, limit);
      const stale = this.opts.serveStale ? this.cache.get(key, t) : undefined;
      if (stale) {
        this.counters.staleAnswers++;
        return this.fit(render(stale, msg, q, t, this.opts.staleAnswerTtlS, this.opts.ednsUdpSize), msg, q, limit);
      }
      this.counters.servfail++;
      return shortReply(msg, q, RCODE_SERVFAIL, { udpSize: this.opts.ednsUdpSize });
    });
  }

  private fit(out: Buffer, msg: Buffer, q: Query, limit: number): Buffer {
    if (out.length <= limit) return out;
    this.counters.truncated++;
    return shortReply(msg, q, 0, { tc: true, udpSize: this.opts.ednsUdpSize });
  }

  /** One upstream query per key at a time; resolves to the entry (cached or not) or null on failure. */
  private fetch(key: string, q: Query): Promise<CacheEntry | null> {
    const pending = this.inflight.get(key);
    if (pending) { this.counters.coalesced++; return pending; }
    const p = this.pool.resolve(q.name, q.qtype, q.qclass, q.dnssecOk).then((resp) => {
      const e = makeEntry(key, resp, Date.now(), this.opts);
      if (!e) return null;
      if (e.ttlS > 0) this.cache.set(key, e);
      return e;
    }, (err: Error & { code?: string }) => {
      this.counters.upstreamFailures++;
      this.log.debug('upstream failed', { name: q.name, qtype: q.qtype, code: err.code, error: err.message });
      return null;
    }).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private prefetch(key: string, q: Query): void {
    if (this.inflight.has(key)) return;
    this.counters.prefetches++;
    void this.fetch(key, q);
  }

  get pendingUpstream(): number { return this.inflight.size; }
}
