// Atomic writes (engine/src/fs/atomic.ts): the target is replaced whole or not at all, the new
// file has the mode asked for even when a crash left a temp file with another mode, and no
// temp file is left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from '../src/fs/atomic.ts';

test('a stale world-readable temp file does not lend its mode; nothing is left beside the target', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ew-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'edge.key');
  writeFileSync(`${key}.tmp-${process.pid}`, 'stale', { mode: 0o666 });
  chmodSync(`${key}.tmp-${process.pid}`, 0o666);
  writeFileAtomicSync(key, 'secret', { mode: 0o600 });
  assert.equal(readFileSync(key, 'utf8'), 'secret');
  assert.equal(statSync(key).mode & 0o777, 0o600);
  await writeFileAtomic(key, 'secret 2', { mode: 0o640, tag: 'periodic' });
  assert.equal(readFileSync(key, 'utf8'), 'secret 2');
  assert.deepEqual(readdirSync(dir), ['edge.key']);
});

test('a failed write leaves the target as it was and no temp file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ew-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // renaming a file over a non-empty directory fails after the temp file was written
  const blocker = join(dir, 'blocked');
  mkdirSync(blocker);
  writeFileSync(join(blocker, 'f'), '');
  assert.throws(() => writeFileAtomicSync(blocker, 'new'));
  await assert.rejects(writeFileAtomic(blocker, 'new'));
  assert.deepEqual(readdirSync(blocker), ['f'], 'the target is as it was');
  assert.deepEqual(readdirSync(dir), ['blocked'], 'no temp file left');
});
