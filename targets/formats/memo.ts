// A disk memo for slow, deterministic byte transforms (xz, gzip, deflate of ~100 MB
// executables): the result is stored under <cacheDir>/<namespace>/<sha256 of tool version,
// options and input>. Compressing the same bytes with the same tool and options gives the
// same bytes, so a no-op rebuild reads the result instead of recompressing (tens of seconds
// per package). Entries are written to a temporary name and renamed: a crash never leaves a
// half-written entry that a later build would serve.
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** Key parts: everything that decides the output (tool version, options) plus the input. */
export type MemoKey = ReadonlyArray<string | Buffer>;

function keyOf(parts: MemoKey): string {
  const h = createHash('sha256');
  // Length-prefixed, so ['ab','c'] and ['a','bc'] are different keys.
  for (const p of parts) h.update(`${Buffer.byteLength(p)}:`).update(p);
  return h.digest('hex');
}

// Every namespace lives under <cacheDir>/memo/, so pruneMemo() bounds them all at once.
function entryPath(cacheDir: string, namespace: string, parts: MemoKey): string {
  return join(cacheDir, 'memo', namespace, `${keyOf(parts)}.bin`);
}

function read(file: string): Buffer | undefined {
  try {
    const data = readFileSync(file);
    // The mtime records the last use: pruneMemo() drops the least recently used first.
    try {
      const now = new Date();
      utimesSync(file, now, now);
    } catch {
      /* read-only cache */
    }
    return data;
  } catch {
    return undefined;
  }
}

function store(file: string, data: Buffer): void {
  try {
    mkdirSync(join(file, '..'), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch {
    // A cache that cannot be written (read-only or full disk) only costs time next build.
  }
}

/** compute() once per key; later calls with the same key read the stored bytes. */
export function memoBytesSync(
  cacheDir: string | undefined,
  namespace: string,
  parts: MemoKey,
  compute: () => Buffer,
): Buffer {
  if (!cacheDir) return compute();
  const file = entryPath(cacheDir, namespace, parts);
  const hit = read(file);
  if (hit) return hit;
  const out = compute();
  store(file, out);
  return out;
}

/** Async form of memoBytesSync for transforms that run a child process. */
export async function memoBytes(
  cacheDir: string | undefined,
  namespace: string,
  parts: MemoKey,
  compute: () => Promise<Buffer>,
): Promise<Buffer> {
  if (!cacheDir) return compute();
  const file = entryPath(cacheDir, namespace, parts);
  const hit = read(file);
  if (hit) return hit;
  const out = await compute();
  store(file, out);
  return out;
}

/**
 * Keep <cacheDir>/memo under maxBytes, least recently used first (every commit makes new
 * executables, hence new entries). Entries used since `keepSince` (ms) — this build's — stay.
 */
export function pruneMemo(
  cacheDir: string,
  maxBytes: number,
  keepSince: number,
): { removed: number; bytes: number } {
  const root = join(cacheDir, 'memo');
  const files: { path: string; size: number; used: number }[] = [];
  let namespaces: string[] = [];
  try {
    namespaces = readdirSync(root);
  } catch {
    return { removed: 0, bytes: 0 };
  }
  for (const ns of namespaces) {
    let names: string[] = [];
    try {
      names = readdirSync(join(root, ns));
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        const st = statSync(join(root, ns, n));
        if (st.isFile()) files.push({ path: join(root, ns, n), size: st.size, used: st.mtimeMs });
      } catch {
        /* removed meanwhile */
      }
    }
  }
  const victims = lruVictims(files, maxBytes, keepSince);
  for (const f of victims) rmSync(f.path, { force: true });
  return { removed: victims.length, bytes: victims.reduce((n, f) => n + f.size, 0) };
}

/**
 * What to delete to bring items (size in bytes, used = last-use time in ms) under maxBytes:
 * least recently used first, never one used since `keepSince` (the current build's). Shared
 * by the memo and the step cache (scripts/cache.ts).
 */
export function lruVictims<T extends { size: number; used: number }>(
  items: readonly T[],
  maxBytes: number,
  keepSince: number,
): T[] {
  let total = items.reduce((n, f) => n + f.size, 0);
  const out: T[] = [];
  for (const f of [...items].sort((a, b) => a.used - b.used)) {
    if (total <= maxBytes) break;
    if (f.used >= keepSince) continue;
    out.push(f);
    total -= f.size;
  }
  return out;
}
