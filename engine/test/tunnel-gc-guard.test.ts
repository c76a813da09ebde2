// The GC guard (tunnel/gc-guard.ts): V8's gc() can be exposed at run time on every supported
// Node, a forced GC frees garbage Buffers outside the heap, and when live ArrayBuffers alone
// exceed the limit the guard backs off instead of GCing over and over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exposedGc, startGcGuard, noteBytes } from '../src/tunnel/gc-guard.ts';
import { waitFor } from './tunnel-helpers.ts';

test('gc() is exposed at run time and frees unreachable Buffers', () => {
  const gc = exposedGc();
  assert.equal(typeof gc, 'function');
  gc!();
  const before = process.memoryUsage().arrayBuffers;
  let junk: Buffer[] | null = Array.from({ length: 64 }, () => Buffer.alloc(256 * 1024, 1));
  assert.ok(process.memoryUsage().arrayBuffers >= before + (15 << 20));
  junk = null;
  gc!();
  // the sweeper may finish on another thread; the bytes must be gone by the next GC at the latest
  gc!();
  assert.ok(process.memoryUsage().arrayBuffers < before + (4 << 20), 'the 16 MiB of garbage was freed');
  assert.equal(junk, null);
});

test('live memory above the limit: forced GCs back off; one that frees garbage resets the pace', async () => {
  const live: Buffer[] = Array.from({ length: 20 }, () => Buffer.alloc(1 << 20, 2));
  const guard = startGcGuard(() => 1 << 20)!; // far below what is live
  try {
    await waitFor(() => guard.forced >= 7, 20000);
    // each forced GC freed nothing (all of it is live): after a run of 4 the gap doubles each time
    assert.ok(guard.gapMs >= 160, `gap ${guard.gapMs} ms after ${guard.forced} useless GCs`);
    // now garbage: 16 MiB allocated and dropped, noted as moved bytes
    for (let i = 0; i < 16; i++) {
      Buffer.alloc(1 << 20, 3);
      noteBytes(1 << 20);
    }
    await waitFor(() => guard.gapMs === 40, 20000);
  } finally {
    guard.stop();
  }
  assert.equal(live.length, 20);
});
