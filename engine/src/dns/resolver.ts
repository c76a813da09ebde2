// Query handling, transport-free: bytes in, bytes (or nothing) out. Order: local data
// (authoritative) → cache (fresh hit, or RFC 8767 stale when upstreams fail) → upstream,
// with identical in-flight questions coalesced onto one upstream query. Hits return
// synchronously so the UDP path never allocates a promise for them.
import type { Logger } from '../log/logger.ts';
import { makeEntry, render, type CacheEntry, type DnsCache } from './cache.ts';
import { answerFromMemory, answerLimit, fit, newCounters, type MemoryAnswerer } from './fastpath.ts';
import type { LocalData } from './local.ts';
import type { DnsOptions } from './options.ts';
import type { UpstreamPool } from './upstream.ts';
import {
  MalformedError,
  parseQuery,
  shortReply,
  RCODE_FORMERR,
  RCODE_NOTIMP,
  RCODE_SERVFAIL,
  type Query,
} from './wire.ts';

export { newCounters, type DnsCounters } from './fastpath.ts';

export type Answer = Buffer | null | Promise<Buffer | null>;

export class Resolver implements MemoryAnswerer {
  readonly counters = newCounters();
  private readonly inflight = new Map<string, Promise<CacheEntry | null>>();
  /** Called with every entry stored from upstream (workers.ts copies it to the worker threads). */
  onStore: ((key: string, e: CacheEntry) => void) | null = null;
  private readonly prefetchFn = (q: Query) => this.prefetch(q.key, q);

  constructor(
    readonly opts: DnsOptions,
    readonly cache: DnsCache,
    readonly local: LocalData,
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
      return shortReply(
        msg,
        {
          id: msg.readUInt16BE(0),
          flags: msg.readUInt16BE(2),
          plainQuestion: false,
          ednsSize: 0,
          dnssecOk: false,
        } as Query,
        RCODE_FORMERR,
      );
    }
    if (q.flags & 0x8000) {
      this.counters.malformed++;
      return null;
    } // a response sent to a server
    if (((q.flags >> 11) & 0x0f) !== 0) return shortReply(msg, q, RCODE_NOTIMP);
    const limit = answerLimit(q, tcp, this.opts.ednsUdpSize);
    const now = Date.now();
    const key = q.key;
    const mem = answerFromMemory(this, msg, q, limit, now, this.prefetchFn);
    if (mem) return mem;
    this.counters.misses++;
    return this.fetch(key, q).then((fresh) => {
      const t = Date.now();
      if (fresh) return fit(this, render(fresh, msg, q, t, null, this.opts.ednsUdpSize), msg, q, limit);
      const stale = this.opts.serveStale ? this.cache.get(key, t) : undefined;
      if (stale) {
        this.counters.staleAnswers++;
        return fit(
          this,
          render(stale, msg, q, t, this.opts.staleAnswerTtlS, this.opts.ednsUdpSize),
          msg,
          q,
          limit,
        );
      }
      this.counters.servfail++;
      return shortReply(msg, q, RCODE_SERVFAIL, { udpSize: this.opts.ednsUdpSize });
    });
  }

  /** One upstream query per key at a time; resolves to the entry (cached or not) or null on failure. */
  private fetch(key: string, q: Query): Promise<CacheEntry | null> {
    const pending = this.inflight.get(key);
    if (pending) {
      this.counters.coalesced++;
      return pending;
    }
    const p = this.pool
      .resolve(q.name, q.qtype, q.qclass, q.dnssecOk)
      .then(
        (resp) => {
          const e = makeEntry(key, resp, Date.now(), this.opts);
          if (!e) return null;
          if (e.ttlS > 0) {
            this.cache.set(key, e);
            this.onStore?.(key, e);
          }
          return e;
        },
        (err: Error & { code?: string }) => {
          this.counters.upstreamFailures++;
          this.log.debug('upstream failed', {
            name: q.name,
            qtype: q.qtype,
            code: err.code,
            error: err.message,
          });
          return null;
        },
      )
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** A worker thread saw a popular entry near expiry: refresh it here (it gets the new entry via onStore). */
  prefetchQuery(msg: Buffer): void {
    try {
      const q = parseQuery(msg);
      this.prefetch(q.key, q);
    } catch {
      /* the worker parsed it: cannot happen */
    }
  }

  private prefetch(key: string, q: Query): void {
    if (this.inflight.has(key)) return;
    this.counters.prefetches++;
    void this.fetch(key, q);
  }

  get pendingUpstream(): number {
    return this.inflight.size;
  }
}
