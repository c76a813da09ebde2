// The fleet core's bookkeeping without a network: per-edge counters that add into the totals
// exactly, the failover order of tunnel.connect, and the revocation watcher (a change is
// picked up without a signal, a malformed file keeps the last good list and is counted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmp, waitFor } from './tunnel-helpers.ts';
import { teeCounters } from '../src/tunnel/fleet/edges.ts';
import { newCounters } from '../src/tunnel/counters.ts';
import { CoreChoice } from '../src/tunnel/fleet-failover.ts';
import { RevocationWatcher, type RevocationList } from '../src/tunnel/fleet/revocation.ts';

test('per-edge counters: every write lands in the edge and in the totals by the same amount', () => {
  const total = newCounters();
  const a = newCounters();
  const b = newCounters();
  const ta = teeCounters(total, a);
  const tb = teeCounters(total, b);
  ta.appTx += 100;
  tb.appTx += 7;
  ta.appTx += 1;
  tb.wireRx += 5;
  ta.streamsOpened++;
  assert.equal(a.appTx, 101);
  assert.equal(b.appTx, 7);
  assert.equal(total.appTx, 108);
  assert.equal(total.wireRx, 5);
  assert.equal(total.streamsOpened, 1);
  // a reconnect writes to the same per-edge counters through a new tee
  const ta2 = teeCounters(total, a);
  ta2.appTx += 9;
  assert.equal(a.appTx, 110);
  assert.equal(total.appTx, 117);
  assert.deepEqual(Object.keys(ta), Object.keys(total));
});

test('failover order: the next core after a failure, a backoff only after a whole round', () => {
  const c = new CoreChoice(['a:1', 'b:2', 'c:3']);
  assert.equal(c.current, 'a:1');
  assert.ok(c.preferred);
  assert.equal(c.advance(), false);
  assert.equal(c.current, 'b:2');
  assert.equal(c.advance(), false);
  assert.equal(c.current, 'c:3');
  assert.equal(c.advance(), true);
  assert.equal(c.current, 'a:1');
  c.advance();
  c.backToFirst();
  assert.equal(c.current, 'a:1');
  assert.equal(c.switches, 5);
  const one = new CoreChoice(['a:1']);
  assert.equal(one.advance(), true);
  assert.equal(one.current, 'a:1');
  assert.equal(one.switches, 0);
  assert.throws(() => new CoreChoice([]), /no core/);
});

test('revocation watcher: a replaced file is applied without a signal; a malformed one keeps the last good list', async () => {
  const dir = tmp('ewF-rev-');
  const file = join(dir, 'revoked.txt');
  writeFileSync(file, 'branch-1\n');
  const applied: RevocationList[] = [];
  const rejected: string[] = [];
  const w = new RevocationWatcher(file, {
    applied: (l) => applied.push(l),
    rejected: (m) => rejected.push(m),
  });
  try {
    assert.equal(w.list.entries, 1);
    writeFileSync(`${file}.new`, 'branch-1\nbranch-2\nserial:abc\n');
    renameSync(`${file}.new`, file);
    await waitFor(() => applied.length === 1, 5000);
    assert.ok(w.list.names.has('branch-2') && w.list.serials.has('abc'));
    writeFileSync(file, 'branch-3\n!!\n');
    await waitFor(() => rejected.length >= 1, 5000);
    assert.match(rejected[0], /revoked\.txt is malformed, line 2/);
    assert.equal(w.list.entries, 3, 'the last good list stays in force');
    assert.equal(w.errors, rejected.length);
    assert.equal(w.reload(), false); // SIGHUP with the file still bad
    writeFileSync(file, '');
    assert.equal(w.reload(), true);
    assert.equal(w.list.entries, 0);
  } finally {
    w.stop();
  }
});
