// Chunk caches: byte-bounded memory tier, disk tier that survives reopen and kill -9, drops
// torn and corrupt records instead of serving them, and stays under its size bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdtempSync,
  readdirSync,
  statSync,
  openSync,
  readSync,
  writeSync,
  closeSync,
  rmSync,
  appendFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ChunkStore, quickKey } from '../src/cache/store.ts';
import { DiskStore } from '../src/cache/disk.ts';
import { fingerprint } from '../src/codec/fingerprint.ts';
import { seeded } from './codec-corpus.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'ewC-cache-'));
/** Run fn on a fresh temp dir, removed afterwards. */
function inTmp(fn: (dir: string) => void): void {
  const dir = tmp();
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const chunk = (seed: number, n = 8192) => {
  const d = seeded(seed).bytes(n);
  return { d, fp: fingerprint(d) };
};

test('memory tier stays within its byte budget', () => {
  const s = new ChunkStore({ memoryBytes: 2 << 20 });
  for (let i = 1; i <= 600; i++) {
    const c = chunk(i);
    s.put(c.fp, c.d);
  }
  assert.ok(s.memoryBytes <= 2 << 20, `${s.memoryBytes}`);
  const last = chunk(600);
  assert.deepEqual(s.get(last.fp), last.d);
  assert.equal(s.get(chunk(1).fp), undefined);
});

test('disk tier: survives reopen with the same identity; bounded by maxBytes', () => {
  const dir = tmp();
  const a = new DiskStore({ dir, maxBytes: 8 << 20, segmentBytes: 1 << 20 });
  const id = Buffer.from(a.id);
  for (let i = 1; i <= 2000; i++) {
    const c = chunk(i);
    a.put(c.fp, c.d);
  }
  a.close();
  const size = readdirSync(dir)
    .filter((n) => n.endsWith('.dat'))
    .reduce((t, n) => t + statSync(join(dir, n)).size, 0);
  assert.ok(size <= 8 << 20, `disk use ${size}`);
  const b = new DiskStore({ dir, maxBytes: 8 << 20, segmentBytes: 1 << 20 });
  assert.deepEqual(Buffer.from(b.id), id);
  const c = chunk(2000);
  assert.deepEqual(Buffer.from(b.get(c.fp)!), Buffer.from(c.d));
  assert.equal(b.get(chunk(1).fp), undefined, 'oldest segments were evicted');
  b.close();
  rmSync(dir, { recursive: true });
});

test('disk tier: a corrupt record is dropped on read, a torn tail on load', () => {
  const dir = tmp();
  const a = new DiskStore({ dir, maxBytes: 64 << 20 });
  const cs = [1, 2, 3].map((i) => chunk(i));
  for (const c of cs) a.put(c.fp, c.d);
  a.close();
  const seg = join(
    dir,
    readdirSync(dir)
      .filter((n) => n.endsWith('.dat'))
      .sort()[0],
  );
  const fd = openSync(seg, 'r+');
  writeSync(fd, Buffer.from([0xff ^ cs[1].d[100]]), 0, 1, 36 + 8192 + 36 + 100); // flip data of record 2
  closeSync(fd);
  appendFileSync(seg, Buffer.from('EWC1 torn half record'));
  const b = new DiskStore({ dir, maxBytes: 64 << 20 });
  assert.deepEqual(Buffer.from(b.get(cs[0].fp)!), Buffer.from(cs[0].d));
  assert.equal(b.get(cs[1].fp), undefined, 'corrupt record must not be served');
  assert.equal(b.has(cs[1].fp), false, 'and is dropped');
  assert.deepEqual(Buffer.from(b.get(cs[2].fp)!), Buffer.from(cs[2].d));
  assert.ok(b.corruptDropped.records >= 2);
  b.close();
  rmSync(dir, { recursive: true });
});

// The bound is far above what 700 ms of writing can reach: at 256 MiB a fast (idle) machine
// filled it, evicted the oldest segment, and the first records the test looks for were gone.
test('disk tier: usable after kill -9 in the middle of writing', async () => {
  const dir = tmp();
  const src = `import { DiskStore } from ${JSON.stringify(fileURLToPath(new URL('../src/cache/disk.ts', import.meta.url)))};
import { fingerprint } from ${JSON.stringify(fileURLToPath(new URL('../src/codec/fingerprint.ts', import.meta.url)))};
const s = new DiskStore({ dir: ${JSON.stringify(dir)}, maxBytes: 1024 << 20 });
let i = 0; process.stdout.write('go\\n');
for (;;) { const d = Buffer.alloc(9000 + (i % 50), i & 255); d.writeUInt32BE(i++, 0); s.put(fingerprint(d), d); }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', src], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((res) => child.stdout!.once('data', () => res()));
  await new Promise((r) => setTimeout(r, 700));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const s = new DiskStore({ dir, maxBytes: 1024 << 20 });
  assert.ok(s.count > 10, `records kept: ${s.count}`);
  // every indexed record verifies
  let ok = 0;
  for (let i = 0; i < 100; i++) {
    const d = Buffer.alloc(9000 + (i % 50), i & 255);
    d.writeUInt32BE(i, 0);
    if (s.get(fingerprint(d))) ok++;
  }
  assert.ok(ok > 0);
  const c = chunk(77);
  s.put(c.fp, c.d);
  s.flush();
  assert.deepEqual(Buffer.from(s.get(c.fp)!), Buffer.from(c.d));
  s.close();
  rmSync(dir, { recursive: true });
});

test('store: disk failure degrades to memory-only with a new identity', () => {
  const dir = tmp();
  let failed: Error | null = null;
  const s = new ChunkStore({
    memoryBytes: 4 << 20,
    disk: { dir, maxBytes: 8 << 20 },
    onDiskFailure: (e) => {
      failed = e;
    },
  });
  const id = Buffer.from(s.id);
  rmSync(dir, { recursive: true }); // segment files vanish under the store
  for (let i = 1; i <= 100; i++) {
    const c = chunk(i);
    s.put(c.fp, c.d);
  }
  s.flush();
  const c = chunk(5);
  assert.deepEqual(s.get(c.fp), c.d);
  // flush on a deleted dir still succeeds on Linux (open fds); force a failure instead:
  if (!failed) {
    (s as unknown as { disk: { flush(): void } }).disk.flush = () => {
      throw new Error('EIO');
    };
    s.flush();
  }
  assert.ok(failed);
  assert.equal(s.diskEnabled, false);
  assert.notDeepEqual(Buffer.from(s.id), id);
});

test('sameAs: finds held chunks by their bytes, never a chunk that differs (even with the same quick key)', () => {
  const s = new ChunkStore({ memoryBytes: 2 << 20 });
  const a = chunk(7001);
  assert.equal(s.sameAs(a.d), null);
  s.put(a.fp, a.d);
  assert.deepEqual(s.sameAs(Uint8Array.from(a.d)), a.fp);
  // Same length, one unsampled byte changed: same quick key, different bytes.
  const b = Uint8Array.from(a.d);
  b[1] ^= 0xff;
  assert.equal(quickKey(b), quickKey(a.d));
  assert.equal(s.sameAs(b), null);
  // Near-duplicates share the quick key: each still resolves to itself.
  const fb = fingerprint(b);
  s.put(fb, b);
  assert.deepEqual(s.sameAs(b), fb);
  assert.deepEqual(s.sameAs(a.d), a.fp);
  // Six of them: the index keeps the newest four, the rest fall back to hashing (null).
  const more = [2, 3, 4, 5].map((i) => {
    const d = Uint8Array.from(a.d);
    d[i] ^= 0x55;
    const fp = fingerprint(d);
    s.put(fp, d);
    return { d, fp };
  });
  for (const m of more) assert.deepEqual(s.sameAs(m.d), m.fp);
  assert.equal(s.sameAs(a.d), null);
  assert.equal(s.sameAs(b), null);
  assert.deepEqual(s.get(a.fp), a.d);
});

test('sameAs: evicted chunks are forgotten; resize keeps the index', () => {
  const s = new ChunkStore({ memoryBytes: 1 << 20 });
  const all = Array.from({ length: 300 }, (_, i) => chunk(8000 + i));
  for (const c of all) s.put(c.fp, c.d);
  assert.equal(s.sameAs(all[0].d), null, 'evicted by the byte budget');
  assert.deepEqual(s.sameAs(all[299].d), all[299].fp);
  s.resize(4 << 20);
  assert.deepEqual(s.sameAs(all[299].d), all[299].fp);
  for (let i = 0; i < 300; i++) {
    const c = chunk(9000 + i);
    s.put(c.fp, c.d);
  }
  assert.deepEqual(s.sameAs(chunk(9299).d), chunk(9299).fp);
});

test('put copies a view or a borrowed buffer, adopts an owned whole one; the disk tier writes it as is', () => {
  const dir = tmp();
  const s = new ChunkStore({ memoryBytes: 4 << 20, disk: { dir, maxBytes: 8 << 20 } });
  const a = chunk(501);
  const b = chunk(502);
  const owned = Uint8Array.from(a.d);
  s.put(a.fp, owned, true);
  assert.equal(s.get(a.fp), owned, 'kept, not copied');
  const big = new Uint8Array(b.d.length + 100);
  big.set(b.d, 50);
  const view = big.subarray(50, 50 + b.d.length);
  s.put(b.fp, view, true); // a view: the rest of its ArrayBuffer must not be kept alive
  assert.notEqual(s.get(b.fp), view);
  assert.deepEqual(s.get(b.fp), b.d);
  const c = chunk(503);
  const borrowed = Uint8Array.from(c.d);
  s.put(c.fp, borrowed);
  borrowed.fill(0); // not owned: the caller may reuse its buffer
  assert.deepEqual(s.get(c.fp), c.d);
  s.close();
  const d = new DiskStore({ dir, maxBytes: 8 << 20 });
  for (const x of [a, b, c]) assert.ok(Buffer.from(d.get(x.fp) ?? []).equals(x.d));
  d.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A store of `n` 8 KiB records in one segment; returns the chunks and the segment's path. */
function filled(dir: string, n: number) {
  const a = new DiskStore({ dir, maxBytes: 64 << 20 });
  const cs = Array.from({ length: n }, (_, i) => chunk(1000 + i));
  for (const c of cs) a.put(c.fp, c.d);
  const id = Buffer.from(a.id).toString('hex');
  a.close();
  const seg = join(
    dir,
    readdirSync(dir)
      .filter((f) => f.endsWith('.dat'))
      .sort()[0],
  );
  return { cs, seg, id };
}
const flipByte = (file: string, at: number) => {
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] ^= 0x10;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
};
const REC = 36 + 8192;

test('disk tier: a bad header inside a segment loses that record only, not the rest of the segment', () =>
  inTmp((dir) => {
    const { cs, seg, id } = filled(dir, 10);
    flipByte(seg, 3 * REC + 10); // record 4's fingerprint: its header checksum fails
    flipByte(seg, 6 * REC + 1); // record 7's magic
    const b = new DiskStore({ dir, maxBytes: 64 << 20 });
    assert.equal(Buffer.from(b.id).toString('hex'), id, 'light damage keeps the identity');
    assert.deepEqual(
      cs.map((c) => b.has(c.fp)),
      cs.map((_, i) => i !== 3 && i !== 6),
    );
    for (const i of [4, 5, 7, 8, 9]) assert.deepEqual(Buffer.from(b.get(cs[i].fp)!), Buffer.from(cs[i].d));
    assert.equal(b.damaged, 2);
    b.close();
  }));

test('disk tier: damage past the threshold at load starts over empty with a new identity', () =>
  inTmp((dir) => {
    const { cs, seg, id } = filled(dir, 100);
    for (let i = 0; i < 40; i++) flipByte(seg, 2 * i * REC + 20); // 40 bad headers ≥ max(32, 5 %)
    const b = new DiskStore({ dir, maxBytes: 64 << 20 });
    assert.notEqual(Buffer.from(b.id).toString('hex'), id);
    assert.match(b.rebuiltAtLoad ?? '', /^40 damaged records of 100$/);
    assert.equal(b.count, 0);
    assert.equal(
      cs.some((c) => b.has(c.fp)),
      false,
    );
    assert.equal(
      readdirSync(dir).filter((f) => f.endsWith('.dat')).length,
      1,
      'old segments deleted, one new one',
    );
    b.close();
  }));

test('store: hold() mends a record that differs from the bytes in hand; failed checks past the threshold rebuild it', () =>
  inTmp((dir) => {
    const { cs, seg, id } = filled(dir, 100);
    flipByte(seg, 0 * REC + 36 + 500); // record 1's data
    const reasons: string[] = [];
    const s = new ChunkStore({
      memoryBytes: 4 << 20,
      disk: { dir, maxBytes: 64 << 20 },
      onRebuild: (w) => reasons.push(w),
    });
    s.hold(cs[0].fp, cs[0].d); // what a sender does before referencing it
    assert.deepEqual(Buffer.from(s.get(cs[0].fp)!), Buffer.from(cs[0].d));
    s.close();
    const again = new DiskStore({ dir, maxBytes: 64 << 20 });
    assert.deepEqual(
      Buffer.from(again.get(cs[0].fp)!),
      Buffer.from(cs[0].d),
      'the record was written again, correct',
    );
    again.close();
    // now damage the data of 40 records: reads find them one by one, the 32nd (≥ 5 % too) rebuilds
    for (let i = 1; i <= 40; i++) flipByte(seg, i * REC + 36 + 7);
    const t = new ChunkStore({
      memoryBytes: 4 << 20,
      disk: { dir, maxBytes: 64 << 20 },
      onRebuild: (w) => reasons.push(w),
    });
    for (let i = 1; i <= 40; i++)
      assert.equal(t.get(cs[i].fp), undefined, 'a damaged record is never served');
    assert.equal(t.stats.rebuilds, 1);
    assert.deepEqual(reasons, ['32 records failed their check']);
    assert.notEqual(Buffer.from(t.id).toString('hex'), id);
    assert.equal(t.has(cs[60].fp), false, 'rebuilt empty');
    t.close();
  }));
