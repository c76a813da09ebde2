// targets/formats/memo.ts: the disk memo behind xz/gzip/deflate of packages. A wrong hit
// would ship stale bytes, so the key must separate inputs and options, and only a complete
// entry may ever be served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoBytes, memoBytesSync, pruneMemo } from '../../targets/formats/memo.ts';

function tmp(t: { after: (f: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'ew-memo-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('memo: computes once per key, then serves the stored bytes', async (t) => {
  const dir = tmp(t);
  let calls = 0;
  const f = () => {
    calls++;
    return Buffer.from(`out${calls}`);
  };
  assert.equal(memoBytesSync(dir, 'gz', ['v1', Buffer.from('in')], f).toString(), 'out1');
  assert.equal(memoBytesSync(dir, 'gz', ['v1', Buffer.from('in')], f).toString(), 'out1');
  assert.equal(calls, 1);
  // Another input, another option string, or another namespace: a new computation.
  assert.equal(memoBytesSync(dir, 'gz', ['v1', Buffer.from('in2')], f).toString(), 'out2');
  assert.equal(memoBytesSync(dir, 'gz', ['v2', Buffer.from('in')], f).toString(), 'out3');
  assert.equal(memoBytesSync(dir, 'xz', ['v1', Buffer.from('in')], f).toString(), 'out4');
  // Part boundaries are part of the key.
  assert.equal(memoBytesSync(dir, 'gz', ['v', '1', Buffer.from('in')], f).toString(), 'out5');
  assert.equal(
    (await memoBytes(dir, 'gz', ['v1', Buffer.from('in')], async () => Buffer.from('never'))).toString(),
    'out1',
  );
});

test('memo: no cache dir computes every time; leftover temp files are never served', async (t) => {
  let calls = 0;
  memoBytesSync(undefined, 'gz', ['a'], () => Buffer.from(String(++calls)));
  memoBytesSync(undefined, 'gz', ['a'], () => Buffer.from(String(++calls)));
  assert.equal(calls, 2);
  const dir = tmp(t);
  memoBytesSync(dir, 'gz', ['a'], () => Buffer.from('x'));
  const ns = join(dir, 'memo', 'gz');
  const [entry] = readdirSync(ns);
  // A crash mid-write leaves only NAME.tmp-PID: the key's real name is absent, so it recomputes.
  rmSync(join(ns, entry));
  writeFileSync(join(ns, `${entry}.tmp-1`), 'torn');
  assert.equal(memoBytesSync(dir, 'gz', ['a'], () => Buffer.from('fresh')).toString(), 'fresh');
  assert.equal((await memoBytes(dir, 'gz', ['b'], async () => Buffer.from('y'))).toString(), 'y');
});

test("memo: prune drops least recently used entries down to the bound, never this build's", (t) => {
  const dir = tmp(t);
  const kb = Buffer.alloc(1024);
  for (const k of ['a', 'b', 'c', 'd']) memoBytesSync(dir, 'gz', [k], () => kb);
  const ns = join(dir, 'memo', 'gz');
  const files = readdirSync(ns).sort();
  // Ages: files[0] oldest … files[3] newest (used by "this build").
  files.forEach((f, i) => utimesSync(join(ns, f), new Date(1e12 + i * 1e6), new Date(1e12 + i * 1e6)));
  const r = pruneMemo(dir, 2048, 1e12 + 3 * 1e6);
  assert.deepEqual(r, { removed: 2, bytes: 2048 });
  assert.deepEqual(
    files.map((f) => existsSync(join(ns, f))),
    [false, false, true, true],
  );
  // Everything used by the running build stays even over the bound.
  assert.equal(pruneMemo(dir, 0, 1e12 + 2 * 1e6).removed, 0);
  assert.deepEqual(pruneMemo(join(dir, 'absent'), 0, 0), { removed: 0, bytes: 0 });
});
