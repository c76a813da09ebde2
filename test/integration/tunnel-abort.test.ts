// Stream abort semantics across kill -9 (issue 22, item 1). Two real engine processes, an
// edge port forward to an echo target behind the core. Each round starts a few transfers,
// kills the edge or the core (alternately) with SIGKILL at a random point, restarts it on
// the same state dir and ports, and checks every connection of the round: whoever saw a
// clean end of stream (FIN) must have received every byte, exactly. A cut transfer must
// end in a reset, never in a clean EOF after a partial file.
//
// This process runs on the host's Node, and libuv before 1.52 (Node 20) reports a reset that
// arrives behind unread bytes as a clean end (engine/src/proxy/end-check.ts). So an 'end' is
// checked with the kernel: a target writes zero bytes, which fails with ECONNRESET only if a
// reset came without a FIN before it (after a FIN, a later reset gives EPIPE: still a clean
// end, and it must be exact); a client, whose writing side has ended, asks the TCP table
// (after a FIN it is listed, CLOSE_WAIT or TIME_WAIT). Those resets are counted apart
// (resetReadAsEnd).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, tunnelKeys, startEngine, type RunningEngine } from '../helpers/engine.ts';
import { connKey, tcpEntries } from '../../engine/src/proxy/tcp-table.ts';

const PAIRS = 2; // independent edge+core pairs run side by side: engine restarts dominate the time
const ROUNDS = 26; // per pair
const HDR = 12; // 'EWAB' · u32 transfer id · u32 total length

interface Seen {
  id: number;
  expected: number;
  got: number;
  clean: boolean;
  exact: boolean;
  resetReadAsEnd: boolean;
}

/** At a client's 'end': did a FIN end this connection (still listed), or a reset (gone from the table)? */
function finEnded(key: number): boolean {
  const t = tcpEntries([key]);
  assert.ok(t, 'the kernel TCP table (/proc/net/tcp) is needed to tell a FIN from a reset');
  return t.has(key);
}

/** The target: echoes every byte back and records, per connection, what arrived and how it ended. */
async function target(): Promise<{ port: number; seen: Map<number, Seen>; open(): number; close(): void }> {
  const socks = new Set<net.Socket>();
  const seen = new Map<number, Seen>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    socks.add(s);
    const parts: Buffer[] = [];
    let got = 0;
    let rec: Seen | null = null;
    s.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (!rec && got >= HDR) {
        const h = Buffer.concat(parts);
        rec = {
          id: h.readUInt32BE(4),
          expected: h.readUInt32BE(8),
          got: 0,
          clean: false,
          exact: false,
          resetReadAsEnd: false,
        };
        seen.set(rec.id, rec);
      }
      if (rec) rec.got = got;
      s.write(d);
    });
    // an echo write still pending meets the reset first (and takes its ECONNRESET): so the
    // socket's first error counts too, after a turn for its 'error' event to arrive
    let sockErr: string | undefined;
    s.on('end', () =>
      s.write(Buffer.alloc(0), (err) =>
        setImmediate(() => {
          const fin =
            (err as NodeJS.ErrnoException | null | undefined)?.code !== 'ECONNRESET' &&
            sockErr !== 'ECONNRESET';
          if (rec) {
            rec.clean = fin;
            rec.resetReadAsEnd = !fin;
            rec.exact = fin && got === rec.expected && sent.get(rec.id)!.equals(Buffer.concat(parts));
          } else
            seen.set(-seen.size - 1, {
              id: -1,
              expected: -1,
              got,
              clean: fin,
              exact: got === 0,
              resetReadAsEnd: !fin,
            });
          s.end();
        }),
      ),
    );
    s.on('error', (e: NodeJS.ErrnoException) => {
      sockErr ??= e.code;
    });
    s.on('close', () => socks.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    seen,
    open: () => socks.size,
    close: () => {
      for (const s of socks) s.destroy();
      srv.close();
    },
  };
}

const sent = new Map<number, Buffer>();
let nextId = 1;

function payload(len: number): Buffer {
  const id = nextId++;
  const b = Buffer.alloc(len);
  // half random, half repetitive text (chunks the far side may already hold: references)
  const text = Buffer.from(`row ${id % 5} status=ok path=/srv/items/${id % 3}\n`.repeat(2000));
  for (let o = HDR; o < len; o += 65536) {
    const n = Math.min(65536, len - o);
    if ((o >> 16) % 2) randomBytes(n).copy(b, o);
    else text.copy(b, o, 0, Math.min(n, text.length));
  }
  b.write('EWAB', 0);
  b.writeUInt32BE(id, 4);
  b.writeUInt32BE(len, 8);
  sent.set(id, b);
  return b;
}

interface Client {
  id: number;
  bytes: number;
  clean: boolean;
  exact: boolean;
  resetReadAsEnd: boolean;
}

/** One client connection through the forward: sends data, ends, reads the echo to the end. */
function transfer(port: number, data: Buffer, onProgress: (received: number) => void): Promise<Client> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const got: Buffer[] = [];
    let n = 0;
    let clean = false;
    let resetReadAsEnd = false;
    let key = -1;
    s.once('connect', () => {
      key = connKey(s.localPort!, s.remotePort!);
    });
    s.on('data', (d) => {
      got.push(d);
      n += d.length;
      onProgress(n);
    });
    s.on('end', () => {
      clean = finEnded(key);
      resetReadAsEnd = !clean;
      s.end();
    });
    s.on('error', () => {});
    s.on('close', () =>
      resolve({
        id: data.readUInt32BE(4),
        bytes: n,
        clean,
        resetReadAsEnd,
        exact: clean && Buffer.concat(got).equals(data),
      }),
    );
    s.setTimeout(30_000, () => s.destroy()); // a stuck transfer fails the round instead of hanging the test
    s.end(data);
  });
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

interface Tally {
  restartMs: number;
  transferMs: number;
  rounds: number;
  killedMidStream: number;
  clientsClean: number;
  clientsCut: number;
  clientsResetReadAsEnd: number;
  targetsClean: number;
  targetsCut: number;
  targetsResetReadAsEnd: number;
}

/** ROUNDS kill -9 rounds on one edge+core pair; returns what went wrong and the counts. */
async function pairRounds(
  pairNo: number,
  keys: string,
  states: string[],
): Promise<{ bad: string[]; tally: Tally }> {
  const tgt = await target();
  const tunPort = await freePort();
  const fwdPort = await freePort();
  // A heap flag in NODE_OPTIONS: no re-exec, so kill -9 hits the process that runs the tunnel.
  const env = { NODE_OPTIONS: '--max-old-space-size=64' };
  const supervisor = { backoffMs: { initial: 100, max: 400 } };
  const coreCfg = {
    role: 'core',
    stateDir: states[0],
    supervisor,
    tunnel: { listen: `127.0.0.1:${tunPort}`, auth: { keyDir: keys } },
  };
  const edgeCfg = {
    role: 'edge',
    stateDir: states[1],
    supervisor,
    tunnel: { connect: `127.0.0.1:${tunPort}`, auth: { keyDir: keys } },
    forwards: [{ listen: `127.0.0.1:${fwdPort}`, target: `127.0.0.1:${tgt.port}` }],
  };
  let core: RunningEngine | null = null;
  let edge: RunningEngine | null = null;
  const bad: string[] = [];
  const tally: Tally = {
    restartMs: 0,
    transferMs: 0,
    rounds: 0,
    killedMidStream: 0,
    clientsClean: 0,
    clientsCut: 0,
    clientsResetReadAsEnd: 0,
    targetsClean: 0,
    targetsCut: 0,
    targetsResetReadAsEnd: 0,
  };
  /** Wait until a small transfer goes through cleanly (the link is up again). */
  const linkUp = async () => {
    for (let i = 0; i < 150; i++) {
      if ((await transfer(fwdPort, payload(HDR + 100), () => {})).exact) return;
      await new Promise((x) => setTimeout(x, 100));
    }
    throw new Error(`pair ${pairNo}: the tunnel did not come back after a restart`);
  };
  try {
    core = await startEngine({ config: coreCfg, env });
    edge = await startEngine({ config: edgeCfg, env });
    await linkUp();
    for (let round = 0; round < ROUNDS; round++) {
      const victimName = (round + pairNo) % 2 === 0 ? 'core' : 'edge';
      const victim = victimName === 'core' ? core! : edge!;
      const data = Array.from({ length: 3 }, () => payload(HDR + randomInt(8 << 10, 768 << 10)));
      const clientGot = new Map<number, number>();
      const ids = data.map((d) => d.readUInt32BE(4));
      // the kill comes at a random point of the bytes moved (up to the target and back), or just after
      const at = Math.floor(data.reduce((n, d) => n + 2 * d.length, 0) * Math.random() * 1.05);
      let killed = false;
      const check = () => {
        let moved = 0;
        for (const id of ids) moved += (tgt.seen.get(id)?.got ?? 0) + (clientGot.get(id) ?? 0);
        if (moved >= at && !killed) {
          killed = true;
          victim.proc.kill('SIGKILL');
        }
      };
      const poll = setInterval(check, 5);
      const t0 = Date.now();
      const results = await Promise.all(
        data.map((d, i) =>
          transfer(fwdPort, d, (n) => {
            clientGot.set(ids[i], n);
            check();
          }),
        ),
      );
      clearInterval(poll);
      tally.transferMs += Date.now() - t0;
      const midStream = killed;
      if (!killed) {
        killed = true;
        victim.proc.kill('SIGKILL');
      }
      await victim.exited;
      await until(() => tgt.open() === 0, 10_000);
      tally.rounds++;
      if (midStream) tally.killedMidStream++;
      for (const r of results) {
        if (r.clean) tally.clientsClean++;
        else tally.clientsCut++;
        if (r.resetReadAsEnd) tally.clientsResetReadAsEnd++;
        if (r.clean && !r.exact)
          bad.push(
            `pair ${pairNo} round ${round} (${victimName} killed): client ${r.id} saw a clean end after ${r.bytes} of ${sent.get(r.id)!.length} bytes`,
          );
        const t = tgt.seen.get(r.id);
        if (!t) continue; // never reached the target
        if (t.clean) tally.targetsClean++;
        else tally.targetsCut++;
        if (t.resetReadAsEnd) tally.targetsResetReadAsEnd++;
        if (t.clean && !t.exact)
          bad.push(
            `pair ${pairNo} round ${round} (${victimName} killed): target saw a clean end after ${t.got} of ${t.expected} bytes`,
          );
      }
      const t1 = Date.now();
      if (victimName === 'core') core = await startEngine({ config: coreCfg, env });
      else edge = await startEngine({ config: edgeCfg, env });
      await linkUp();
      tally.restartMs += Date.now() - t1;
    }
  } finally {
    tgt.close();
    await edge?.stop();
    await core?.stop();
  }
  return { bad, tally };
}

test(
  `kill -9 of edge or core at random points (${PAIRS} x ${ROUNDS} rounds): no clean end of a short stream on either side`,
  { timeout: 240_000 },
  async () => {
    const keys = tunnelKeys('ewB-abort-');
    const dirs: string[] = [];
    try {
      const runs = await Promise.all(
        Array.from({ length: PAIRS }, (_, p) => {
          const states = [
            mkdtempSync(join(tmpdir(), 'ewB-abort-core-')),
            mkdtempSync(join(tmpdir(), 'ewB-abort-edge-')),
          ];
          dirs.push(...states);
          return pairRounds(p, keys, states);
        }),
      );
      const bad = runs.flatMap((r) => r.bad);
      const sum = runs
        .map((r) => r.tally)
        .reduce((a, t) => {
          for (const k of Object.keys(a) as (keyof Tally)[]) a[k] += t[k];
          return a;
        });
      console.log(JSON.stringify(sum));
      assert.deepEqual(bad, [], `clean ends of short streams:\n${bad.join('\n')}`);
      assert.ok(
        sum.killedMidStream >= (PAIRS * ROUNDS) / 2,
        `only ${sum.killedMidStream} kills hit a transfer in progress`,
      );
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      rmSync(join(keys, '..'), { recursive: true, force: true });
    }
  },
);
