// Keeps garbage Buffers from piling up outside the V8 heap. Every tunnel byte passes through
// a few short-lived Buffers (socket read, chunker, LZ4 output, frame), which live outside the
// V8 heap. Their small JS wrappers barely grow the heap, so the heap limit never triggers a
// full GC; V8 starts one only once external memory has grown by about 64 MiB since the last.
// Under a 96 MiB limit that garbage alone broke the budget (measured: the rss step of
// `npm run bench:tunnel` showed 40–90 MB of external memory with 24 MiB of chunk cache and
// under 8 MiB of live stream data). So while the tunnel runs, this checks the process's
// ArrayBuffer memory every 20 ms and forces a full GC once it exceeds what the budgets
// allow (chunk cache + buffers + slack). A GC of the engine's small heap takes a few ms and
// happens only under memory pressure.
import v8 from 'node:v8';
import vm from 'node:vm';

const CHECK_MS = 20;
/** Not more often than this, whatever the pressure (bounds the CPU a runaway could cost). */
const MIN_GAP_MS = 40;
/** A forced GC that frees less than this was not worth it: wait longer before the next. */
const USEFUL = 2 << 20;
const MAX_GAP_MS = 5000;
/** Back off only after this many useless forced GCs in a row. */
const USELESS_RUN = 4;

let gcFn: (() => void) | null | undefined;

/** V8's gc(), exposed at run time (no flag on the command line), or null if the runtime refuses. */
export function exposedGc(): (() => void) | null {
  if (gcFn !== undefined) return gcFn;
  try {
    v8.setFlagsFromString('--expose-gc');
    const f = vm.runInNewContext('gc') as unknown;
    gcFn = typeof f === 'function' ? (f as () => void) : null;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

export interface GcGuard {
  stop(): void;
  readonly forced: number;
  readonly gapMs: number;
  /** Longest back-off gap so far, the limit at the last check and process ArrayBuffers then (for /status). */
  readonly maxGapMs: number;
  readonly limitBytes: number;
  readonly arrayBuffers: number;
}

/** Check at least every this many bytes moved, too: one busy event-loop turn can allocate more than the slack. */
const CHECK_BYTES = 1 << 20;
let current: { check(): void } | null = null;
let moved = 0;

/** The data path moved `n` bytes (allocated Buffers for them): check now and then. */
export function noteBytes(n: number): void {
  moved += n;
  if (moved >= CHECK_BYTES && current) {
    moved = 0;
    current.check();
  }
}

/** Start checking; `limitBytes()` is read at every check so budget changes apply at once. */
export function startGcGuard(limitBytes: () => number): GcGuard | null {
  const gc = exposedGc();
  if (!gc) return null;
  // A forced GC that freed little (live ArrayBuffers alone above the limit: other components'
  // caches, say) would free nothing the next time either, so after USELESS_RUN of them in a
  // row the gap between forced GCs doubles (up to MAX_GAP_MS) until one is useful again.
  // What one freed is read at later checks: V8 frees the backing stores on a sweeper thread
  // after gc() returns.
  let last = 0;
  let gap = MIN_GAP_MS;
  let before = 0;
  let low = Infinity;
  let judged = true;
  let useless = 0;
  const state = { forced: 0, maxGap: MIN_GAP_MS, limit: 0, ab: 0 };
  const me = {
    check(): void {
      const limit = limitBytes();
      if (!(limit > 0)) return;
      const ab = process.memoryUsage().arrayBuffers;
      state.limit = limit;
      state.ab = ab;
      low = Math.min(low, ab);
      const now = Date.now();
      if (now - last < MIN_GAP_MS) return;
      // Useful: it freed enough, or got us under the limit. Busy traffic refills quickly, so
      // the level seen later can hide what a GC freed: only a run of useless ones backs off.
      if (!judged) {
        judged = true;
        if (before - low >= USEFUL || low <= limit) {
          useless = 0;
          gap = MIN_GAP_MS;
        } else if (++useless >= USELESS_RUN) {
          gap = Math.min(gap * 2, MAX_GAP_MS);
          state.maxGap = Math.max(state.maxGap, gap);
        }
      }
      if (ab <= limit || now - last < gap) return;
      last = now;
      before = ab;
      low = Infinity;
      judged = false;
      state.forced++;
      gc();
    },
  };
  current = me;
  const timer = setInterval(() => me.check(), CHECK_MS);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      if (current === me) current = null;
    },
    get forced() {
      return state.forced;
    },
    get gapMs() {
      return gap;
    },
    get maxGapMs() {
      return state.maxGap;
    },
    get limitBytes() {
      return state.limit;
    },
    get arrayBuffers() {
      return state.ab;
    },
  };
}
