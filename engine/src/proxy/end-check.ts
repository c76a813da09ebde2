// A local socket's end of stream must be a FIN before we forward it as one. libuv before 1.52
// (Node 18 and 20: the bundle on those runtimes, the armv7 executable's 20.11) reports a TCP
// reset that arrives behind bytes not yet read as a clean end: after a short read it takes
// POLLHUP for end of stream and never reads the error. Measured: a reader resumed after one
// byte and a reset sees 'end' on Node 20.20 (libuv 1.46) and ECONNRESET on 24.21 (libuv
// 1.52.1). Forwarded as FIN, a client's abort would reach the target as a complete request.
//
// So on such a runtime an 'end' is confirmed against the kernel's TCP table before it is
// forwarded (one /proc read for all the ends of an event-loop turn): a connection that got
// a FIN is still listed (CLOSE_WAIT, or CLOSING/TIME_WAIT when we had finished first); a
// reset one is not. Whether the runtime needs it is measured once at the first splice (a
// loopback pair: one byte, a reset, then the read), not guessed from version numbers.
import net from 'node:net';
import { tcpEntries } from './tcp-table.ts';

type Verdict = 'unknown' | 'probing' | 'needed' | 'not-needed';
let verdict: Verdict = process.platform === 'linux' ? 'unknown' : 'not-needed';
const pending: Array<{ key: number; fin: () => void; reset: () => void }> = [];
let scheduled = false;
/** For /status: whether ends are checked, how many were, and how many were resets in disguise. */
export const endCheckStats = { confirmed: 0, resets: 0 };
export function endCheckStatus(): Record<string, unknown> {
  return { state: verdict, ...endCheckStats };
}

/**
 * Whether this runtime reads a reset behind unread data as a clean end: once the client has
 * seen its connect (a reset before that is read by the connect itself), a loopback server
 * writes one byte and resets; the client reads only after the reset has gone out.
 */
export function eofHidesReset(): Promise<boolean> {
  return new Promise((resolve) => {
    let c: net.Socket | null = null;
    let server: net.Socket | null = null;
    let connected = false;
    let settled = false;
    const go = () => {
      if (!server || !connected) return;
      const s = server;
      s.write(Buffer.from([1]), () => {
        s.once('close', () => c?.resume());
        s.resetAndDestroy();
      });
    };
    const srv = net.createServer((s) => {
      s.on('error', () => {});
      server = s;
      go();
    });
    // No answer (no loopback?): check anyway; a check costs a /proc read, a miss a truncation.
    const timer = setTimeout(() => done(true), 2000);
    timer.unref();
    function done(hides: boolean): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      c?.destroy();
      server?.destroy();
      srv.close();
      resolve(hides);
    }
    srv.on('error', () => done(true));
    srv.listen(0, '127.0.0.1', () => {
      c = net.connect({
        port: (srv.address() as net.AddressInfo).port,
        host: '127.0.0.1',
        allowHalfOpen: true,
      });
      c.pause(); // nothing is read before the reset is in
      c.once('connect', () => {
        connected = true;
        go();
      });
      c.on('end', () => done(true));
      c.on('error', () => done(false));
    });
  });
}

/** Start measuring the runtime (idempotent); splice() calls it for every socket. */
export function startEndCheck(): void {
  if (verdict !== 'unknown') return;
  verdict = 'probing';
  void eofHidesReset().then((hides) => {
    // without a readable TCP table nothing can be confirmed: trust the end as before
    verdict = hides && tcpEntries([]) !== null ? 'needed' : 'not-needed';
    flush();
  });
}

/**
 * A local socket emitted 'end' (`key`: its proxy/tcp-table.ts key, taken while it was
 * connected): call `fin` if a FIN ended it, `reset` if it was reset behind the data we read.
 */
export function confirmEnd(key: number, fin: () => void, reset: () => void): void {
  if (verdict === 'not-needed') {
    fin();
    return;
  }
  pending.push({ key, fin, reset });
  if (verdict === 'needed' && !scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

function flush(): void {
  scheduled = false;
  if (verdict === 'probing' || verdict === 'unknown') return;
  const batch = pending.splice(0);
  if (verdict === 'not-needed') {
    for (const p of batch) p.fin();
    return;
  }
  const table = tcpEntries(batch.map((p) => p.key));
  for (const p of batch) {
    endCheckStats.confirmed++;
    if (!table || table.has(p.key)) p.fin();
    else {
      endCheckStats.resets++;
      p.reset();
    }
  }
}
