// The tunnel's memory across its links: one byte budget (memory.split.chunkMemory) shared by
// the chunk store's memory tier, one sketch index and a peer model per link, split by
// memory/links.ts each time a link comes or goes; and the receive buffers of
// memory.split.buffers divided between the links. Gives /status its `memory` object and
// /metrics its tunnel_memory_* series (labels from fixed sets, never per link).
import { linkSplit, type LinkSplit } from '../memory/links.ts';
import { SketchIndex } from '../codec/resemble.ts';
import { RunIndex, RUN_ENTRY_BYTES } from '../codec/runs.ts';
import type { MetricSample } from '../supervisor/component.ts';
import type { Link } from './link.ts';
import type { ChunkStore } from '../cache/store.ts';

/**
 * What one chunk costs in the sketch index: 4 super-feature Map slots (heap numbers as keys)
 * and its key string. 187 bytes measured (V8 heap after a full GC, 65,536 chunks), plus headroom.
 */
export const SKETCH_ENTRY_BYTES = 240;
/** Each link's receive buffers never get less than this, however many links share memory.split.buffers. */
export const RECV_LINK_FLOOR = 256 * 1024;

export class LinkMemory {
  split: LinkSplit;
  readonly sketches: SketchIndex;
  /** The manifest-range index (REFN), as many chunks as the sketch index. */
  readonly runs: RunIndex;
  /** Peer-model chunks forgotten by links that have closed (live links count their own). */
  private evictedClosed = 0;
  private readonly live = new Set<Link>();

  /** `budgetBytes`: the tunnel's budget; `buffersBytes`: memory.split.buffers (0: no policy). */
  constructor(
    private budgetBytes: number,
    avgChunk: number,
    private readonly buffersBytes: number,
  ) {
    this.sketches = new SketchIndex(Math.max(256, Math.ceil(budgetBytes / avgChunk)));
    this.runs = new RunIndex(this.sketches.max);
    this.split = this.splitFor(0);
  }

  private splitFor(links: number): LinkSplit {
    const runBytes = this.runs.max * RUN_ENTRY_BYTES;
    return linkSplit(this.budgetBytes, links, this.sketches.max * SKETCH_ENTRY_BYTES, runBytes);
  }

  /** The link's share for its peer model, read on every chunk it notes. */
  readonly peerModelBytes = (): number => this.split.perLinkBytes;

  /** Receive buffers one link's streams share: memory.split.buffers divided between the links. */
  readonly recvBytes = (): number => {
    if (this.buffersBytes <= 0) return 16 << 20;
    return Math.max(
      RECV_LINK_FLOOR,
      Math.floor(Math.max(1 << 20, this.buffersBytes) / Math.max(1, this.live.size)),
    );
  };

  /** A link came or went (or the budget changed): split again and trim every peer model to its new share at once. */
  relink(links: Iterable<Link>, budgetBytes = this.budgetBytes): void {
    this.budgetBytes = budgetBytes;
    const now = new Set(links);
    for (const l of this.live)
      if (!now.has(l)) {
        this.evictedClosed += l.peerModel?.evicted ?? 0;
        this.live.delete(l);
      }
    for (const l of now) this.live.add(l);
    this.split = this.splitFor(this.live.size);
    for (const l of this.live) l.peerModel?.trim();
  }

  get peerModelBytesUsed(): number {
    let n = 0;
    for (const l of this.live) n += l.peerModel?.bytes ?? 0;
    return n;
  }
  get sketchBytesUsed(): number {
    return this.sketches.size * SKETCH_ENTRY_BYTES;
  }
  get runBytesUsed(): number {
    return this.runs.size * RUN_ENTRY_BYTES;
  }

  status(store: ChunkStore | null): Record<string, unknown> {
    const s = this.split;
    let entries = 0;
    let evicted = this.evictedClosed;
    for (const l of this.live) {
      entries += l.peerModel?.entries ?? 0;
      evicted += l.peerModel?.evicted ?? 0;
    }
    const storeUsed = store?.memoryBytes ?? 0;
    return {
      budgetBytes: s.budgetBytes,
      links: this.live.size,
      usedBytes: storeUsed + this.peerModelBytesUsed + this.sketchBytesUsed + this.runBytesUsed,
      store: { limitBytes: store?.memoryLimit ?? 0, splitBytes: s.storeBytes, usedBytes: storeUsed },
      peerModels: {
        limitBytes: s.peerModelsBytes,
        perLinkBytes: s.perLinkBytes,
        floorBytes: s.floorBytes,
        usedBytes: this.peerModelBytesUsed,
        entries,
        evicted,
      },
      sketches: { limitBytes: s.sketchBytes, usedBytes: this.sketchBytesUsed, entries: this.sketches.size },
      runs: { limitBytes: s.runBytes, usedBytes: this.runBytesUsed, entries: this.runs.size },
      buffers: { budgetBytes: this.buffersBytes, perLinkRecvBytes: this.recvBytes() },
    };
  }

  metrics(store: ChunkStore | null): MetricSample[] {
    const s = this.split;
    const g = (name: string, help: string, value: number, labels?: Record<string, string>): MetricSample => ({
      name,
      help,
      type: 'gauge',
      value,
      labels,
    });
    const budget =
      'The tunnel memory budget (memory.split.chunkMemory) and its parts: the chunk store memory tier, the peer models of all links, the sketch index, the manifest-range index (runs).';
    const used = 'Bytes held in each part of the tunnel memory budget.';
    let evicted = this.evictedClosed;
    for (const l of this.live) evicted += l.peerModel?.evicted ?? 0;
    return [
      g('tunnel_memory_budget_bytes', budget, s.budgetBytes, { part: 'total' }),
      g('tunnel_memory_budget_bytes', budget, store?.memoryLimit ?? 0, { part: 'store' }),
      g('tunnel_memory_budget_bytes', budget, s.peerModelsBytes, { part: 'peer_models' }),
      g('tunnel_memory_budget_bytes', budget, s.sketchBytes, { part: 'sketches' }),
      g('tunnel_memory_budget_bytes', budget, s.runBytes, { part: 'runs' }),
      g('tunnel_memory_used_bytes', used, store?.memoryBytes ?? 0, { part: 'store' }),
      g('tunnel_memory_used_bytes', used, this.peerModelBytesUsed, { part: 'peer_models' }),
      g('tunnel_memory_used_bytes', used, this.sketchBytesUsed, { part: 'sketches' }),
      g('tunnel_memory_used_bytes', used, this.runBytesUsed, { part: 'runs' }),
      g(
        'tunnel_peer_model_link_bytes',
        "What one link's peer model may hold now (share) and whatever the other links do (floor).",
        s.perLinkBytes,
        { bound: 'share' },
      ),
      g(
        'tunnel_peer_model_link_bytes',
        "What one link's peer model may hold now (share) and whatever the other links do (floor).",
        s.floorBytes,
        { bound: 'floor' },
      ),
      {
        name: 'tunnel_peer_model_evictions_total',
        help: 'Chunks the peer models forgot to stay within their byte share.',
        type: 'counter',
        value: evicted,
      },
      g(
        'tunnel_recv_buffer_link_bytes',
        "Receive buffers one link's streams share (memory.split.buffers divided between the links).",
        this.recvBytes(),
      ),
    ];
  }
}
