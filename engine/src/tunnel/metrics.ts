// Prometheus samples for the tunnel (the admin endpoint adds the edgewan_ prefix).
import type { MetricSample } from '../supervisor/component.ts';
import type { Link } from './link.ts';
import type { TunnelComponent } from './component.ts';

export function tunnelMetrics(t: TunnelComponent, links: Link[]): MetricSample[] {
  const c = t.counters;
  const s = t.store;
  const g = (name: string, help: string, value: number, labels?: Record<string, string>): MetricSample => ({ name, help, type: 'gauge', value, labels });
  const k = (name: string, help: string, value: number, labels?: Record<string, string>): MetricSample => ({ name, help, type: 'counter', value, labels });
  const lookups = c.chunkHits + c.chunkMisses;
  const rtt = links.find((l) => !l.isClosed)?.rttMs ?? -1;
  return [
    k('tunnel_app_bytes_total', 'Application bytes entering (tx) or leaving (rx) the tunnel on this side.', c.appTx, { direction: 'tx' }),
    k('tunnel_app_bytes_total', 'Application bytes entering (tx) or leaving (rx) the tunnel on this side.', c.appRx, { direction: 'rx' }),
    k('tunnel_link_bytes_total', 'Bytes sent (tx) and received (rx) on the WAN link, inside TLS.', c.wireTx, { direction: 'tx' }),
    k('tunnel_link_bytes_total', 'Bytes sent (tx) and received (rx) on the WAN link, inside TLS.', c.wireRx, { direction: 'rx' }),
    k('tunnel_saved_bytes_total', 'Bytes kept off the link, by deduplication and by LZ4 (sender side).', c.savedDedup, { by: 'dedup' }),
    k('tunnel_saved_bytes_total', 'Bytes kept off the link, by deduplication and by LZ4 (sender side).', c.savedLz4, { by: 'lz4' }),
    k('tunnel_chunks_total', 'Chunks sent as references (hit) or literals (miss).', c.chunkHits, { result: 'hit' }),
    k('tunnel_chunks_total', 'Chunks sent as references (hit) or literals (miss).', c.chunkMisses, { result: 'miss' }),
    g('tunnel_chunk_hit_ratio', 'Share of sent chunks that went as references.', lookups ? c.chunkHits / lookups : 0),
    k('tunnel_chunk_requests_total', 'References this side could not resolve and asked the peer for.', c.needs),
    g('tunnel_cache_bytes', 'Chunk cache use.', s?.memoryBytes ?? 0, { tier: 'memory' }),
    g('tunnel_cache_bytes', 'Chunk cache use.', s?.diskBytes ?? 0, { tier: 'disk' }),
    g('tunnel_cache_budget_bytes', 'Chunk cache budgets.', s?.memoryLimit ?? 0, { tier: 'memory' }),
    g('tunnel_cache_budget_bytes', 'Chunk cache budgets.', s?.diskLimit ?? 0, { tier: 'disk' }),
    g('tunnel_active_streams', 'Streams open on the tunnel.', links.reduce((n, l) => n + l.activeStreams, 0)),
    g('tunnel_links', 'Connected tunnel links.', links.filter((l) => !l.isClosed).length),
    g('tunnel_rtt_seconds', 'Round-trip time of the link (keepalive); -1 when unknown.', rtt < 0 ? -1 : rtt / 1000),
    k('tunnel_reconnects_total', 'Times the edge re-established the link.', c.reconnects),
    k('tunnel_streams_opened_total', 'Streams opened from this side.', c.streamsOpened),
    g('tunnel_mode', 'Data reduction mode in use (1 for the active one).', 1, { mode: t.modeName }),
  ];
}
