// The kernel's TCP table (/proc/net/tcp and /proc/net/tcp6) for a few connections at a time:
// whether they are listed, and their send queue. A byte scanner over one reused buffer: with 1,000 connections
// the files are ~300 KB, and callers read them every 50 ms while they wait for something
// (proxy/linger.ts), so no strings and no per-line garbage. Linux only; elsewhere (or without
// /proc) nothing is listed.
import { closeSync, openSync, readSync } from 'node:fs';

export interface TcpEntry {
  txQueue: number;
}

/** One connection as the table names it: local port × 65536 + remote port. */
export const connKey = (localPort: number, remotePort: number): number => localPort * 65536 + remotePort;

const procBuf = Buffer.allocUnsafe(64 * 1024);
const hexVal = (c: number) => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);

/**
 * The entries of the connections in `keys` that the kernel lists. A connection that was reset
 * (or fully closed) is not listed. Should two connections share a key (other addresses, an old
 * TIME_WAIT), the largest send queue wins. Null when the
 * table cannot be read at all (no /proc): then nothing can be said about any connection.
 */
export function tcpEntries(keys: Iterable<number>): Map<number, TcpEntry> | null {
  const want = new Set(keys);
  const found = new Map<number, TcpEntry>();
  let readable = false;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let fd: number;
    try {
      fd = openSync(f, 'r');
    } catch {
      continue;
    }
    readable = true;
    if (want.size === 0) {
      closeSync(fd);
      continue;
    }
    try {
      let line = 0;
      let field = 0;
      let inField = false;
      let acc = 0;
      let lport = 0;
      let rport = 0;
      let tx = 0;
      for (;;) {
        const n = readSync(fd, procBuf, 0, procBuf.length, null);
        if (n <= 0) break;
        for (let i = 0; i < n; i++) {
          const c = procBuf[i];
          if (c === 0x0a) {
            // end of line: "sl: local:port remote:port st tx:rx ..."
            if (line > 0) {
              const k = connKey(lport, rport);
              if (want.has(k)) {
                const e = found.get(k);
                if (e) e.txQueue = Math.max(e.txQueue, tx);
                else found.set(k, { txQueue: tx });
              }
            }
            line++;
            field = 0;
            inField = false;
            acc = 0;
          } else if (c === 0x20) {
            if (inField) {
              if (field === 1) lport = acc;
              else if (field === 2) rport = acc;
              field++;
              inField = false;
            }
          } else {
            if (!inField) {
              inField = true;
              acc = 0;
            }
            if (c === 0x3a) {
              if (field === 4) tx = acc;
              acc = 0;
            } else acc = acc * 16 + hexVal(c);
          }
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  return readable ? found : null;
}
