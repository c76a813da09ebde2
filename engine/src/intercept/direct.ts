// Fail-open's direct dial: with the tunnel down, the router connects to an intercepted
// connection's original destination itself (its own connections pass no prerouting chain, so
// they are not redirected back to the engine). The dial tracks its own `connected` state, so
// every way it can end is decided once: connected (the caller splices), refused or
// unreachable (EDGEWAN_ERR_INTERCEPT_DIRECT), no connect within the timeout
// (EDGEWAN_ERR_TUNNEL_CONNECT_TIMEOUT, the code a core's target dial uses for the same
// event), or the client gone first (the dial is cancelled; resolves null). An error after the
// connect is no longer the dial's: splice() handles it.
import net from 'node:net';
import { joinHostPort } from '../net/hostport.ts';

/** How long a destination may take to accept; the same 10 s a core gives a stream's target. */
export const DIRECT_TIMEOUT_MS = 10_000;

/** Makes the outgoing socket (test hook: a dial that never connects). */
export type Dial = (o: net.TcpNetConnectOpts) => net.Socket;

export interface DirectOptions {
  timeoutMs?: number;
  dial?: Dial;
}

/**
 * Connect to host:port for the intercepted client `sock`. Resolves the connected socket,
 * paused; null when the client reset or closed before it connected; rejects with a typed
 * error when the destination refused, was unreachable or did not answer in time.
 */
export function dialDirect(
  sock: net.Socket,
  host: string,
  port: number,
  o: DirectOptions = {},
): Promise<net.Socket | null> {
  const ms = o.timeoutMs ?? DIRECT_TIMEOUT_MS;
  const target = joinHostPort(host, port);
  return new Promise((resolve, reject) => {
    const out = (o.dial ?? net.connect)({ host, port, allowHalfOpen: true });
    out.pause(); // no read before splice() takes over
    let connected = false;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      sock.off('close', clientGone);
      return true;
    };
    const fail = (e: Error) => {
      if (!settle()) return;
      out.destroy();
      reject(e);
    };
    const clientGone = () => {
      if (!settle()) return;
      out.destroy();
      resolve(null);
    };
    const timer = setTimeout(
      () =>
        fail(
          new Error(
            `EDGEWAN_ERR_TUNNEL_CONNECT_TIMEOUT: ${target} did not accept a direct (fail-open) connection within ${ms} ms`,
          ),
        ),
      ms,
    );
    // The client is paused (the listener's pauseOnConnect), and a paused socket never learns
    // of a reset. Reading into its own buffer (at most one high-water mark, kept for splice)
    // lets its reset or error close it, which cancels the dial. A FIN is a half-close and is
    // delivered once connected.
    sock.once('close', clientGone);
    if (sock.destroyed) clientGone();
    else sock.read(0);
    out.once('connect', () => {
      if (!settle()) {
        out.destroy();
        return;
      }
      connected = true;
      resolve(out);
    });
    out.on('error', (e) => {
      if (connected) return;
      fail(
        new Error(
          `EDGEWAN_ERR_INTERCEPT_DIRECT: cannot connect directly to ${target} (fail-open): ${e.message}`,
          {
            cause: e,
          },
        ),
      );
    });
  });
}
