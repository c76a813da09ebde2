// File helpers every build step uses, re-exported from where they live for the targets too:
// sha256 (targets/formats/hash.ts) and writes that go to a temporary name and are renamed into
// place when complete (targets/formats/atomic.ts).

export { sha256, sha256File } from '../targets/formats/hash.ts';
export { copyAtomic, tempPathFor, writeAtomic } from '../targets/formats/atomic.ts';

/** Stable JSON (sorted keys) for cache keys. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => {
    if (val && typeof val === 'object' && !Array.isArray(val)) {
      return Object.fromEntries(
        Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return val;
  });
}
