// Messages between the main thread (workers.ts) and a UDP worker thread (worker.ts), and the
// layout of the shared counters: one row of STRIDE float64 per thread (row 0, the main
// thread, is unused), written by the worker after every datagram, read by /metrics.

/** [key, answer bytes, questionEnd, ttlOffsets, storedAt ms, ttlS, negative] — a CacheEntry without its objects */
export type WireEntry = [string, Uint8Array, number, number[], number, number, boolean];

export type ToWorker = { t: 'put'; e: WireEntry[] } | { t: 'resize'; b: number };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'fail'; error: string; code?: string }
  /** a datagram the worker could not answer from memory: listen index, bytes, client port and address */
  | { t: 'q'; i: number; m: Uint8Array; p: number; a: string }
  /** refresh this question upstream (prefetch) */
  | { t: 'pf'; m: Uint8Array };

export const SLOT = {
  received: 0,
  queries: 1,
  localAnswers: 2,
  hits: 3,
  negativeHits: 4,
  truncated: 5,
  refusedAcl: 6,
  forwarded: 7,
  cacheBytes: 8,
  cacheEntries: 9,
} as const;
export const STRIDE = 10;
