// Prometheus samples for the DNS component (the admin endpoint adds the edgewan_ prefix,
// HELP and TYPE lines). Names follow Prometheus conventions: counters end in _total.
// With UDP worker threads (workers.ts) the counters and cache figures are already summed over
// every thread; dns_thread_datagrams_total shows how the kernel spread the UDP load.
import type { MetricSample } from '../supervisor/component.ts';
import type { DnsCounters } from './fastpath.ts';
import type { UpstreamPool } from './upstream.ts';

export interface CacheFigures {
  bytes: number;
  budgetBytes: number;
  entries: number;
}

/** threads: UDP datagrams received per thread, index 0 = the main thread. */
export function dnsMetrics(
  c: DnsCounters,
  pool: UpstreamPool,
  cache: CacheFigures,
  threads: number[],
): MetricSample[] {
  const p = pool.counters;
  const counter = (
    name: string,
    help: string,
    value: number,
    labels?: Record<string, string>,
  ): MetricSample => ({ name, help, type: 'counter', value, labels });
  const gauge = (
    name: string,
    help: string,
    value: number,
    labels?: Record<string, string>,
  ): MetricSample => ({ name, help, type: 'gauge', value, labels });
  const out: MetricSample[] = [
    counter('dns_queries_total', 'DNS queries received (UDP and TCP).', c.queries),
    counter('dns_local_answers_total', 'Queries answered from local records.', c.localAnswers),
    counter(
      'dns_cache_hits_total',
      'Queries answered from a fresh cache entry (positive or negative).',
      c.hits,
    ),
    counter('dns_cache_misses_total', 'Queries that needed an upstream answer.', c.misses),
    counter('dns_negative_hits_total', 'Cache hits on NXDOMAIN/NODATA entries (RFC 2308).', c.negativeHits),
    counter(
      'dns_stale_answers_total',
      'Expired answers served because upstreams failed (RFC 8767).',
      c.staleAnswers,
    ),
    counter('dns_coalesced_total', 'Queries that joined an identical in-flight upstream query.', c.coalesced),
    counter('dns_prefetches_total', 'Popular entries refreshed before expiry.', c.prefetches),
    counter(
      'dns_truncated_total',
      'UDP answers sent truncated (TC) because they exceeded the client limit.',
      c.truncated,
    ),
    counter(
      'dns_servfail_total',
      'SERVFAIL answers sent (no upstream answer and nothing stale).',
      c.servfail,
    ),
    counter('dns_dropped_total', 'Packets dropped or refused.', c.malformed, { reason: 'malformed' }),
    counter('dns_dropped_total', 'Packets dropped or refused.', c.refusedAcl, { reason: 'acl' }),
    counter('dns_dropped_total', 'Packets dropped or refused.', p.mismatched, {
      reason: 'upstream_mismatch',
    }),
    counter('dns_dropped_total', 'Packets dropped or refused.', p.overload, { reason: 'overload' }),
    counter('dns_upstream_tcp_retries_total', 'Truncated upstream answers retried over TCP.', p.tcpRetries),
    {
      name: 'dns_upstream_latency_seconds_sum',
      help: 'Round trips of successful upstream queries.',
      type: 'summary',
      value: p.latencyMsSum / 1000,
    },
    {
      name: 'dns_upstream_latency_seconds_count',
      help: 'Round trips of successful upstream queries.',
      type: 'summary',
      value: p.latencyCount,
    },
    gauge('dns_upstream_inflight', 'Upstream queries in flight.', pool.active),
    gauge('dns_cache_bytes', 'Bytes held by the DNS cache (its own accounting).', cache.bytes),
    gauge('dns_cache_budget_bytes', 'DNS cache budget from the memory policy.', cache.budgetBytes),
    gauge('dns_cache_entries', 'Entries in the DNS cache.', cache.entries),
  ];
  threads.forEach((n, i) =>
    out.push(
      counter(
        'dns_thread_datagrams_total',
        'UDP datagrams received per thread answering DNS (0 = main thread; dns.workers).',
        n,
        { thread: String(i) },
      ),
    ),
  );
  for (const u of pool.health()) {
    const labels = { upstream: u.address };
    out.push(
      counter('dns_upstream_queries_total', 'Queries sent to this upstream.', u.queries, labels),
      counter(
        'dns_upstream_errors_total',
        'Failed queries to this upstream (timeouts included).',
        u.errors,
        labels,
      ),
      gauge('dns_upstream_rtt_seconds', 'Smoothed round trip to this upstream.', u.rttMs / 1000, labels),
      gauge('dns_upstream_up', '1 when this upstream is not in failure backoff.', u.up ? 1 : 0, labels),
    );
  }
  return out;
}
