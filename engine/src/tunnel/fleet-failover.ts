// Which core an edge dials when tunnel.connect lists several (issue 16, failover): the first
// that works, in order. A failed dial or a lost link moves on to the next core after the
// initial backoff; only a whole round of failures backs off exponentially. With
// tunnel.failbackS > 0, an edge on a later core probes the first one that often (a full TLS
// handshake and the same peer check as a link, then closed) and moves back once the probe
// passes and its current link carries no stream, so failing back never resets a transfer.
// The chunk caches stay correct across a switch: each core has its own cache id, and the
// peer model trusts our store only for the core it last linked with (tunnel/peer-model.ts).
import tls from 'node:tls';
import { tunnelAddress } from './hostport.ts';
import type { Transport } from './transport.ts';

export class CoreChoice {
  index = 0;
  /** Moves to another core (failover or failback). */
  switches = 0;
  constructor(readonly cores: readonly string[]) {
    if (cores.length === 0) throw new Error('EDGEWAN_ERR_TUNNEL_ADDRESS: no core to connect to');
  }

  get current(): string {
    return this.cores[this.index];
  }
  get preferred(): boolean {
    return this.index === 0;
  }

  /** The current core failed: the next one. true when that starts a new round (back off). */
  advance(): boolean {
    if (this.cores.length === 1) return true;
    this.index = (this.index + 1) % this.cores.length;
    this.switches++;
    return this.index === 0;
  }

  backToFirst(): void {
    if (this.index !== 0) {
      this.index = 0;
      this.switches++;
    }
  }
}

/** One TLS handshake with `addr` and the transport's peer check; resolves null or why not. */
export function probeCore(addr: string, transport: Transport, timeoutMs = 5000): Promise<string | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (why: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(why);
    };
    const [host, port] = tunnelAddress(addr);
    const sock = tls.connect({ ...transport.client, host, port, servername: undefined });
    const timer = setTimeout(() => finish(`no TLS handshake within ${timeoutMs} ms`), timeoutMs);
    sock.once('secureConnect', () => finish(transport.verify(sock)));
    sock.once('error', (e) => finish(e.message));
    sock.once('close', () => finish('closed during the handshake'));
  });
}
