// Prometheus samples for the tunnel (the admin endpoint adds the edgewan_ prefix).
import type { MetricSample } from '../supervisor/component.ts';
import type { Link } from './link.ts';
import type { ChunkStore } from '../cache/store.ts';
import type { Counters } from './counters.ts';

/** What tunnelMetrics reads of the tunnel component (a shape, so this file does not import it). */
export interface TunnelView {
  readonly counters: Counters;
  readonly store: ChunkStore | null;
  readonly modeName: string;
}

const gauge = (name: string, help: string, value: number, labels?: Record<string, string>): MetricSample => ({
  name,
  help,
  type: 'gauge',
  value,
  labels,
});
const counter = (
  name: string,
  help: string,
  value: number,
  labels?: Record<string, string>,
): MetricSample => ({ name, help, type: 'counter', value, labels });

/**
 * The traffic series of one set of counters and its links: the whole tunnel's, or one fleet
 * edge's (`labels` { edge }, fleet/edges.ts).
 */
export function trafficSeries(
  c: Counters,
  links: readonly Link[],
  labels: Record<string, string> = {},
): MetricSample[] {
  const at = (more: Record<string, string> = {}) => ({ ...labels, ...more });
  const lookups = c.chunkHits + c.chunkMisses;
  const rtt = links.find((l) => !l.isClosed)?.rttMs ?? -1;
  return [
    counter(
      'tunnel_app_bytes_total',
      'Application bytes entering (tx) or leaving (rx) the tunnel on this side.',
      c.appTx,
      at({ direction: 'tx' }),
    ),
    counter(
      'tunnel_app_bytes_total',
      'Application bytes entering (tx) or leaving (rx) the tunnel on this side.',
      c.appRx,
      at({ direction: 'rx' }),
    ),
    counter(
      'tunnel_link_bytes_total',
      'Bytes sent (tx) and received (rx) on the WAN link, inside TLS.',
      c.wireTx,
      at({ direction: 'tx' }),
    ),
    counter(
      'tunnel_link_bytes_total',
      'Bytes sent (tx) and received (rx) on the WAN link, inside TLS.',
      c.wireRx,
      at({ direction: 'rx' }),
    ),
    counter(
      'tunnel_saved_bytes_total',
      'Bytes kept off the link, by deduplication and by LZ4 (sender side).',
      c.savedDedup,
      at({ by: 'dedup' }),
    ),
    counter(
      'tunnel_saved_bytes_total',
      'Bytes kept off the link, by deduplication and by LZ4 (sender side).',
      c.savedLz4,
      at({ by: 'lz4' }),
    ),
    counter(
      'tunnel_chunks_total',
      'Chunks sent as references (hit) or literals (miss).',
      c.chunkHits,
      at({ result: 'hit' }),
    ),
    counter(
      'tunnel_chunks_total',
      'Chunks sent as references (hit) or literals (miss).',
      c.chunkMisses,
      at({ result: 'miss' }),
    ),
    gauge(
      'tunnel_chunk_hit_ratio',
      'Share of sent chunks that went as references.',
      lookups ? c.chunkHits / lookups : 0,
      at(),
    ),
    gauge(
      'tunnel_active_streams',
      'Streams open on the tunnel.',
      links.reduce((n, l) => n + l.activeStreams, 0),
      at(),
    ),
    gauge(
      'tunnel_rtt_seconds',
      'Round-trip time of the link (keepalive); -1 when unknown.',
      rtt < 0 ? -1 : rtt / 1000,
      at(),
    ),
    counter('tunnel_streams_opened_total', 'Streams opened from this side.', c.streamsOpened, at()),
  ];
}

/** The tunnel's series; `traffic: false` leaves out trafficSeries (a fleet core labels them per edge). */
export function tunnelMetrics(t: TunnelView, links: Link[], traffic = true): MetricSample[] {
  const c = t.counters;
  const s = t.store;
  return [
    ...(traffic ? trafficSeries(c, links) : []),
    counter(
      'tunnel_chunk_requests_total',
      'References this side could not resolve and asked the peer for.',
      c.needs,
    ),
    gauge('tunnel_cache_bytes', 'Chunk cache use.', s?.memoryBytes ?? 0, { tier: 'memory' }),
    gauge('tunnel_cache_bytes', 'Chunk cache use.', s?.diskBytes ?? 0, { tier: 'disk' }),
    gauge('tunnel_cache_budget_bytes', 'Chunk cache budgets.', s?.memoryLimit ?? 0, { tier: 'memory' }),
    gauge('tunnel_cache_budget_bytes', 'Chunk cache budgets.', s?.diskLimit ?? 0, { tier: 'disk' }),
    gauge('tunnel_links', 'Connected tunnel links.', links.filter((l) => !l.isClosed).length),
    counter('tunnel_reconnects_total', 'Times the edge re-established the link.', c.reconnects),
    gauge('tunnel_mode', 'Data reduction mode in use (1 for the active one).', 1, { mode: t.modeName }),
  ];
}
