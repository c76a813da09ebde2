// Traffic counters shared by the links of one tunnel component, and the operating mode
// (the degrade chain: dedup → lz4 → raw; a disk failure keeps dedup, memory-only).
export type Mode = 'dedup' | 'lz4' | 'raw';

export interface Counters {
  /** application bytes written into the tunnel here / delivered out of it here */
  appTx: number;
  appRx: number;
  /** bytes on the link (TLS payload) sent / received */
  wireTx: number;
  wireRx: number;
  savedDedup: number;
  savedLz4: number;
  chunkHits: number;
  chunkMisses: number;
  needs: number;
  reconnects: number;
  streamsOpened: number;
}

export function newCounters(): Counters {
  return {
    appTx: 0,
    appRx: 0,
    wireTx: 0,
    wireRx: 0,
    savedDedup: 0,
    savedLz4: 0,
    chunkHits: 0,
    chunkMisses: 0,
    needs: 0,
    reconnects: 0,
    streamsOpened: 0,
  };
}
