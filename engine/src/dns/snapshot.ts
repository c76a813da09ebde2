// Warm restart: the cache written to stateDir on stop and every snapshotIntervalS, read back
// on start. Entries carry their wall-clock store time, so TTLs come back reduced by the time
// the engine was down. The file is written to a temp name, fsynced and renamed (never a
// half-written snapshot under the real name) and carries a SHA-256 of its body: a file that
// fails any check is ignored as a whole — never half-loaded.
//
// Layout: "EWDNSSNAP1\n" | sha256(body) (32 bytes) | body
// body:   u32 count | count × (u16 keyLen | key utf8 | f64 storedAt ms | u32 ttlS | u8 flags | u16 wireLen | wire)
import { createHash } from 'node:crypto';
import { readFileSync, mkdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { entrySize, type CacheEntry, type DnsCache } from './cache.ts';
import { layoutResponse } from './wire.ts';
import { writeFileAtomic, writeFileAtomicSync } from '../fs/atomic.ts';

const MAGIC = Buffer.from('EWDNSSNAP1\n', 'latin1');
const FLAG_NEGATIVE = 1;

export class SnapshotError extends Error {
  readonly code = 'EDGEWAN_ERR_DNS_SNAPSHOT';
}

export function encodeSnapshot(cache: DnsCache): Buffer {
  const parts: Buffer[] = [];
  let count = 0;
  // oldest first, so loading in file order rebuilds the same recency
  const entries = [...cache.all()].reverse();
  for (const [key, e] of entries) {
    if (e.fixed || e.ttlS <= 0) continue;
    const k = Buffer.from(key, 'utf8');
    const h = Buffer.allocUnsafe(2 + k.length + 8 + 4 + 1 + 2);
    let p = h.writeUInt16BE(k.length, 0);
    p += k.copy(h, p);
    p = h.writeDoubleBE(e.storedAt, p);
    p = h.writeUInt32BE(e.ttlS, p);
    p = h.writeUInt8(e.negative ? FLAG_NEGATIVE : 0, p);
    h.writeUInt16BE(e.wire.length, p);
    parts.push(h, e.wire);
    count++;
  }
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(count);
  const body = Buffer.concat([head, ...parts]);
  return Buffer.concat([MAGIC, createHash('sha256').update(body).digest(), body]);
}

/** Parses a whole snapshot or throws SnapshotError; entries expired beyond keepS are left out. */
export function decodeSnapshot(buf: Buffer, now: number, keepS: number): Array<[string, CacheEntry]> {
  const fail = (what: string, off: number): never => {
    throw new SnapshotError(`${what} at byte ${off}`);
  };
  if (buf.length < MAGIC.length + 36 || !buf.subarray(0, MAGIC.length).equals(MAGIC))
    fail('not a DNS snapshot (bad magic)', 0);
  const sum = buf.subarray(MAGIC.length, MAGIC.length + 32);
  const body = buf.subarray(MAGIC.length + 32);
  if (!createHash('sha256').update(body).digest().equals(sum)) fail('checksum mismatch', MAGIC.length);
  const base = MAGIC.length + 32;
  const count = body.readUInt32BE(0);
  const out: Array<[string, CacheEntry]> = [];
  let p = 4;
  for (let i = 0; i < count; i++) {
    if (p + 2 > body.length) fail('entry header past the end', base + p);
    const kl = body.readUInt16BE(p);
    p += 2;
    if (p + kl + 15 > body.length) fail('entry past the end', base + p);
    const key = body.toString('utf8', p, p + kl);
    p += kl;
    const storedAt = Math.min(body.readDoubleBE(p), now);
    p += 8; // a clock that went back must not make entries fresher
    const ttlS = body.readUInt32BE(p);
    p += 4;
    const flags = body[p];
    p += 1;
    const wl = body.readUInt16BE(p);
    p += 2;
    if (p + wl > body.length) fail('answer bytes past the end', base + p);
    const wire = Buffer.from(body.subarray(p, p + wl));
    p += wl;
    let lay;
    try {
      lay = layoutResponse(wire);
    } catch (err) {
      return fail(`stored answer unreadable (${(err as Error).message})`, base + p - wl);
    }
    if (ttlS - (now - storedAt) / 1000 < -keepS) continue;
    const e: CacheEntry = {
      wire,
      ttlOffsets: lay.ttlOffsets,
      questionEnd: lay.questionEnd,
      storedAt,
      ttlS,
      negative: (flags & FLAG_NEGATIVE) !== 0,
      fixed: false,
      hits: 0,
      size: 0,
    };
    e.size = entrySize(key, e);
    out.push([key, e]);
  }
  if (p !== body.length) fail('trailing bytes after the last entry', base + p);
  return out;
}

/** Atomic write: temp file, fsync, rename. */
export function saveSnapshot(file: string, cache: DnsCache): number {
  const data = encodeSnapshot(cache);
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomicSync(file, data, { mode: 0o600 });
  return data.length;
}

/**
 * The same atomic write without blocking the event loop on the disk (the periodic save: an
 * fsync on a busy SD card can take tens of milliseconds, which every query waiting behind it
 * would pay). Only encoding the cache is synchronous. Its own temp name, so a stop-time
 * saveSnapshot never shares one with it.
 */
export async function saveSnapshotAsync(file: string, cache: DnsCache): Promise<number> {
  const data = encodeSnapshot(cache);
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, data, { mode: 0o600, tag: 'periodic' });
  return data.length;
}

/** Entries to load, [] when there is no snapshot; throws SnapshotError when it is corrupt. */
export function loadSnapshot(file: string, now: number, keepS: number): Array<[string, CacheEntry]> {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return decodeSnapshot(buf, now, keepS);
}
