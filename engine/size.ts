// Byte sizes: integers (bytes) or "96MiB"-style strings. KiB/MiB/GiB are powers of 1024,
// KB/MB/GB powers of 1000, matching the config schema's `size` definition. The one size parser:
// the engine's config and the build manifest's service.memoryMax (scripts/manifest.ts) both use
// it. Pure like contract.ts beside it, so the builder imports it without engine source.

const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
};
const SIZE_RE = /^([0-9]+(?:\.[0-9]+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/;

/** Bytes for a size value, or undefined when it is not one. */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = SIZE_RE.exec(v.trim());
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * UNITS[m[2] ?? '']);
}

/** "96.0 MiB"-style rendering for messages and the status page. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
