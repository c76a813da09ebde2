// Local listeners whose connections ride the tunnel: port forwards (listen → fixed target on
// the far side) and a SOCKS5 proxy (target chosen per connection). Each listener is a
// Component; streams are opened through the tunnel hub, so a tunnel restart needs no
// rewiring. While the link is down new connections are reset at once (clients retry).
import net from 'node:net';
import type { Component, ComponentContext, MetricSample } from '../supervisor/component.ts';
import { hub } from '../tunnel/hub.ts';
import { tunnelAddress } from '../tunnel/hostport.ts';
import { splice, resetSocket } from './splice.ts';
import { abortOnExit } from './linger.ts';
import { socksHandshake } from './socks5.ts';

export interface ForwardSpec {
  listen: string;
  target: string;
  direction: 'edge-to-core' | 'core-to-edge';
  edge?: string | null;
}

abstract class ListenerComponent implements Component {
  abstract readonly name: string;
  protected ctx!: ComponentContext;
  private readonly servers: net.Server[] = [];
  private readonly conns = new Set<net.Socket>();
  protected readonly stats = { accepted: 0, failed: 0 };

  protected abstract specs(): Array<{ listen: string; handle(sock: net.Socket): Promise<void> }>;

  async start(ctx: ComponentContext): Promise<void> {
    this.ctx = ctx;
    const specs = this.specs();
    if (specs.length === 0) {
      ctx.unconfigured('nothing to listen on for this role');
      return;
    }
    for (const sp of specs) {
      const [host, port] = tunnelAddress(sp.listen);
      const srv = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) => {
        this.conns.add(sock);
        this.stats.accepted++;
        sock.on('close', () => this.conns.delete(sock));
        sock.on('error', () => {});
        sp.handle(sock).catch((e: Error) => {
          this.stats.failed++;
          // a stream for a fleet edge that is not linked is worth a line; other failures are the client's
          if (/EDGEWAN_ERR_TUNNEL_EDGE_/.test(e.message))
            ctx.log.warn('connection through the tunnel refused', { listen: sp.listen, error: e.message });
          else ctx.log.debug('connection through the tunnel failed', { listen: sp.listen, error: e.message });
          resetSocket(sock);
        });
      });
      await new Promise<void>((resolve, reject) => {
        srv.once('error', (e) =>
          reject(
            new Error(`EDGEWAN_ERR_PROXY_LISTEN: cannot listen on ${sp.listen}: ${e.message}`, { cause: e }),
          ),
        );
        srv.listen(port, host, () => resolve());
      });
      srv.on('error', (e) => ctx.fail(e));
      this.servers.push(srv);
    }
  }

  /** Bound addresses (tests use port 0). */
  addresses(): net.AddressInfo[] {
    return this.servers.map((s) => s.address() as net.AddressInfo);
  }

  status(): Record<string, unknown> {
    return {
      listening: this.addresses().map((a) => `${a.address}:${a.port}`),
      connections: this.conns.size,
      ...this.stats,
    };
  }

  metrics(): MetricSample[] {
    return [
      {
        name: `${this.name}_connections`,
        help: 'Open local connections carried by the tunnel.',
        type: 'gauge',
        value: this.conns.size,
      },
      {
        name: `${this.name}_connections_total`,
        help: 'Accepted local connections.',
        type: 'counter',
        value: this.stats.accepted,
      },
      {
        name: `${this.name}_failures_total`,
        help: 'Connections that could not be carried (link down, target refused).',
        type: 'counter',
        value: this.stats.failed,
      },
    ];
  }

  async stop(graceMs: number): Promise<void> {
    for (const s of this.servers) s.close();
    const until = Date.now() + graceMs;
    while (this.conns.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    for (const c of this.conns) resetSocket(c);
    this.servers.length = 0;
  }
}

/** Port forwards for which this role is the listening side. */
export class ForwardsComponent extends ListenerComponent {
  readonly name = 'forwards';
  constructor(
    private readonly role: 'edge' | 'core',
    private readonly forwards: readonly ForwardSpec[],
  ) {
    super();
  }

  protected specs() {
    const mine = this.role === 'edge' ? 'edge-to-core' : 'core-to-edge';
    return this.forwards
      .filter((f) => f.direction === mine)
      .map((f) => ({
        listen: f.listen,
        handle: async (sock: net.Socket) => {
          // From the start: should we die while the stream opens, the client must see a reset,
          // not a FIN. (SOCKS arms in splice(), after its handshake: its error replies end with
          // a normal close.)
          abortOnExit(sock);
          const stream = await hub.open(f.target, f.edge ?? undefined);
          if (sock.destroyed) {
            stream.destroy();
            return;
          }
          splice(sock, stream); // starts reading (when the read gate allows)
        },
      }));
  }
}

/** SOCKS5 (RFC 1928, CONNECT): each connection names its target; on a fleet core the username names the edge. */
export class SocksComponent extends ListenerComponent {
  readonly name = 'socks';
  constructor(private readonly listen: string | null) {
    super();
  }

  protected specs() {
    if (!this.listen) return [];
    return [
      {
        listen: this.listen,
        handle: async (sock: net.Socket) => {
          sock.resume();
          await socksHandshake(
            sock,
            async (target, user) => {
              const stream = await hub.open(target, user);
              return stream;
            },
            (stream, rest) => {
              if (rest.length) sock.unshift(rest);
              splice(sock, stream);
            },
          );
        },
      },
    ];
  }
}
