// Self-healing chunk caches (issue 22, item 2): bytes flipped at random offsets in the disk
// stores (record data and record headers) of either side or both, then both sides restart on
// their state dirs. Every transfer must be exact on the first try.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, readSync, writeSync, closeSync, readdirSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { echoServer, roundTrip, sha, tmp, fakeCtx, waitFor } from './tunnel-helpers.ts';
import { generateCredentials } from '../src/tunnel/credentials.ts';
import { TunnelComponent } from '../src/tunnel/component.ts';
import { mixedCorpus } from './codec-corpus.ts';

const CORPUS = mixedCorpus(2207, 4 << 20);

async function pairWith(keys: string, dirs: { edge: string; core: string }) {
  const base = { auth: { keyDir: keys, psk: null, cert: null, key: null, pin: null }, diskMaxBytes: 64 << 20, backoffMs: { initial: 50, max: 500 } };
  const core = new TunnelComponent({ role: 'core', stateDir: dirs.core, listen: '127.0.0.1:0', connect: null, ...base });
  await core.start(fakeCtx(64 << 20));
  const edge = new TunnelComponent({ role: 'edge', stateDir: dirs.edge, listen: null, connect: `127.0.0.1:${core.address()!.port}`, ...base });
  await edge.start(fakeCtx(64 << 20));
  await waitFor(() => edge.currentLink() !== null && core.currentLink() !== null);
  await Promise.all([edge.currentLink()!.ready$(), core.currentLink()!.ready$()]);
  return { edge, core };
}

/** Flip `n` bytes at random offsets of the segment files in dir/chunks; returns how many hit record headers. */
function flip(dir: string, n: number): void {
  const cdir = join(dir, 'chunks');
  const segs = readdirSync(cdir).filter((f) => f.endsWith('.dat')).map((f) => ({ f: join(cdir, f), size: statSync(join(cdir, f)).size })).filter((s) => s.size > 0);
  const total = segs.reduce((a, s) => a + s.size, 0);
  for (let i = 0; i < n; i++) {
    let at = randomInt(total);
    const s = segs.find((x) => (at < x.size ? true : ((at -= x.size), false)))!;
    const fd = openSync(s.f, 'r+');
    const b = Buffer.alloc(1); readSync(fd, b, 0, 1, at); b[0] ^= 1 << randomInt(8); writeSync(fd, b, 0, 1, at);
    closeSync(fd);
  }
}

async function once(edge: TunnelComponent, port: number, data: Uint8Array): Promise<boolean> {
  const r = await roundTrip(await edge.open(`127.0.0.1:${port}`), data, 65536);
  return r.error === null && r.bytes.length === data.length && sha(r.bytes) === sha(data);
}

for (const [who, n] of [['core', 550], ['core', 600], ['both', 600], ['edge', 600]] as const) {
  test(`${n} bytes flipped in the ${who} store${who === 'both' ? 's' : ''}: the next transfers are exact`, { timeout: 120_000 }, async (t) => {
    const echo = await echoServer();
    const dirs = { edge: tmp('ewB-heal-e-'), core: tmp('ewB-heal-c-') };
    const keys = tmp('ewB-keys-'); generateCredentials(keys);
    let p = await pairWith(keys, dirs);
    try {
      assert.ok(await once(p.edge, echo.port, CORPUS));
      await p.edge.stop(100); await p.core.stop(100);
      if (who !== 'edge') flip(dirs.core, n);
      if (who !== 'core') flip(dirs.edge, n);
      p = await pairWith(keys, dirs);
      const results: boolean[] = [];
      for (let i = 0; i < 5; i++) results.push(await once(p.edge, echo.port, CORPUS));
      t.diagnostic(`results ${results.join(',')} needs edge ${p.edge.counters.needs} core ${p.core.counters.needs}`);
      assert.deepEqual(results, [true, true, true, true, true]);
    } finally {
      echo.close(); await p.edge.stop(100); await p.core.stop(100);
      for (const d of [dirs.edge, dirs.core, keys]) rmSync(d, { recursive: true, force: true });
    }
  });
}
