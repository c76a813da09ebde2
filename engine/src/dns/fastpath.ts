// The part of query handling that needs no upstream and no promise: the header checks, local
// data (authoritative) and fresh cache hits, rendered from stored wire bytes. The main thread's
// Resolver and every UDP worker thread (worker.ts) run this same code; what it cannot answer
// (misses, stale entries, malformed packets) the Resolver forwards and a worker hands to the
// main thread.
import { remainingS, render, type DnsCache } from './cache.ts';
import type { LocalData } from './local.ts';
import { parseQuery, shortReply, type Query } from './wire.ts';

export interface DnsCounters {
  queries: number;
  localAnswers: number;
  hits: number;
  negativeHits: number;
  misses: number;
  staleAnswers: number;
  upstreamFailures: number;
  coalesced: number;
  prefetches: number;
  truncated: number;
  malformed: number;
  refusedAcl: number;
  servfail: number;
}

export function newCounters(): DnsCounters {
  return {
    queries: 0,
    localAnswers: 0,
    hits: 0,
    negativeHits: 0,
    misses: 0,
    staleAnswers: 0,
    upstreamFailures: 0,
    coalesced: 0,
    prefetches: 0,
    truncated: 0,
    malformed: 0,
    refusedAcl: 0,
    servfail: 0,
  };
}

export interface MemoryAnswerer {
  readonly opts: { readonly ednsUdpSize: number; readonly prefetch: boolean };
  readonly cache: DnsCache;
  readonly local: LocalData;
  readonly counters: DnsCounters;
}

/** The client's size limit: 64 KiB over TCP, else 512 or its EDNS0 size capped at ednsUdpSize. */
export function answerLimit(q: Query, tcp: boolean, ednsUdpSize: number): number {
  return tcp ? 65535 : q.ednsSize > 0 ? Math.min(q.ednsSize, ednsUdpSize) : 512;
}

/** An answer above the client's limit becomes header + question with TC set (RFC 1035 §4.2.1). */
export function fit(d: MemoryAnswerer, out: Buffer, msg: Buffer, q: Query, limit: number): Buffer {
  if (out.length <= limit) return out;
  d.counters.truncated++;
  return shortReply(msg, q, 0, { tc: true, udpSize: d.opts.ednsUdpSize });
}

/**
 * Local or fresh cached answer, or undefined (the caller goes upstream). Counts what it
 * answers; `prefetch` is called for a popular entry with < 10% of its TTL left.
 */
export function answerFromMemory(
  d: MemoryAnswerer,
  msg: Buffer,
  q: Query,
  limit: number,
  now: number,
  prefetch: ((q: Query) => void) | null,
): Buffer | undefined {
  const loc = d.local.empty ? null : d.local.lookup(q.name, q.qtype, q.qclass, q.key);
  if (loc) {
    d.counters.localAnswers++;
    return fit(d, render(loc, msg, q, now, null, d.opts.ednsUdpSize), msg, q, limit);
  }
  const e = d.cache.get(q.key, now);
  if (!e) return undefined;
  const left = remainingS(e, now);
  if (left <= 0) return undefined;
  e.hits++;
  d.counters.hits++;
  if (e.negative) d.counters.negativeHits++;
  if (prefetch && d.opts.prefetch && e.hits >= 2 && left < e.ttlS / 10) prefetch(q);
  return fit(d, render(e, msg, q, now, null, d.opts.ednsUdpSize), msg, q, limit);
}

/**
 * A worker thread's whole job per datagram: the answer when it comes from memory, else
 * undefined and the main thread handles the datagram (it counts the query then).
 */
export function quickAnswer(
  d: MemoryAnswerer,
  msg: Buffer,
  prefetch: ((q: Query) => void) | null,
): Buffer | undefined {
  // a response, a non-QUERY opcode or a short header: the main thread's Resolver decides
  if (msg.length < 12 || (msg[2] & 0xf8) !== 0) return undefined;
  let q: Query;
  try {
    q = parseQuery(msg);
  } catch {
    return undefined;
  }
  const out = answerFromMemory(d, msg, q, answerLimit(q, false, d.opts.ednsUdpSize), Date.now(), prefetch);
  if (out) d.counters.queries++;
  return out;
}
