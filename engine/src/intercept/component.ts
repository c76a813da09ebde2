// The interception Component (edge, intercept.enabled): a listener on intercept.port that the
// engine's nftables table (nft.ts) REDIRECTs matching TCP connections to. Each accepted
// connection's original destination comes from conntrack (conntrack.ts); it is then carried
// as a tunnel stream to that destination exactly like a SOCKS5 CONNECT (hub.open + splice,
// the same stream protocol). Tunnel down: fail-open dials the destination directly from the
// router (counted as bypassed); failClosed resets the client. Stop: the table is removed
// (fail-open) or replaced by one that rejects the intercepted destinations (failClosed).
import net from 'node:net';
import type { Component, ComponentContext, MetricSample } from '../supervisor/component.ts';
import type { InterceptConfig } from '../config/types.ts';
import { hub } from '../tunnel/hub.ts';
import { joinHostPort } from '../net/hostport.ts';
import { splice, resetSocket } from '../proxy/splice.ts';
import type { CompiledRule } from './config.ts';
import { OriginalDestinations, type Source } from './conntrack.ts';
import { dialDirect, type Dial } from './direct.ts';
import { applyNft, renderActive, renderClosed, renderRemove, tableExists, type TableSpec } from './nft.ts';

export interface InterceptOptions {
  config: InterceptConfig;
  rules: readonly CompiledRule[];
  /** test hooks */
  source?: Source;
  procPath?: string;
  nft?: string;
  /** the listener's address (default '::', every address) */
  host?: string;
  /** fail-open's direct dial: its connect timeout (default 10 s) and the socket it makes */
  directTimeoutMs?: number;
  dial?: Dial;
}

type FailReason = 'no_original_destination' | 'tunnel_down_fail_closed' | 'direct_connect' | 'tunnel_refused';

export class InterceptComponent implements Component {
  readonly name = 'intercept';
  private ctx!: ComponentContext;
  private server: net.Server | null = null;
  private readonly conns = new Set<net.Socket>();
  private originals!: OriginalDestinations;
  private applied = false;
  private tunnelUp = false;
  private timer: NodeJS.Timeout | null = null;
  private lastError: string | null = null;
  readonly counts = { intercepted: 0, bypassed: 0 };
  readonly failed: Record<FailReason, number> = {
    no_original_destination: 0,
    tunnel_down_fail_closed: 0,
    direct_connect: 0,
    tunnel_refused: 0,
  };

  constructor(readonly opts: InterceptOptions) {}

  private get spec(): TableSpec {
    const c = this.opts.config;
    return { table: c.table, port: c.port, interfaces: c.interfaces, rules: this.opts.rules };
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.ctx = ctx;
    const c = this.opts.config;
    if (!c.enabled) {
      ctx.unconfigured('intercept.enabled is false');
      return;
    }
    this.originals = new OriginalDestinations(c.port, {
      source: this.opts.source,
      procPath: this.opts.procPath,
    });
    const srv = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) =>
      this.onConnection(sock),
    );
    await new Promise<void>((resolve, reject) => {
      srv.once('error', (e) =>
        reject(
          new Error(`EDGEWAN_ERR_INTERCEPT_LISTEN: cannot listen on port ${c.port}: ${e.message}`, {
            cause: e,
          }),
        ),
      );
      srv.listen({ port: c.port, host: this.opts.host ?? '::', ipv6Only: false }, () => resolve());
    });
    srv.on('error', (e) => ctx.fail(e));
    this.server = srv;
    try {
      await applyNft(renderActive(this.spec), this.opts.nft);
    } catch (e) {
      srv.close();
      this.server = null;
      throw e;
    }
    this.applied = true;
    ctx.log.info('interception on', {
      table: `inet ${c.table}`,
      port: c.port,
      rules: this.opts.rules.length,
      lookup: this.originals.source,
      failClosed: c.failClosed,
    });
    this.check();
    this.timer = setInterval(() => this.check(), 1000);
    this.timer.unref();
  }

  /** Tunnel state → component health (the supervisor shows it in /status and /metrics). */
  private check(): void {
    if (++this.ticks % 10 === 0) void this.ensureTable();
    const t = hub.tunnel as null | { currentLink?: () => unknown };
    const up = !!t && typeof t.currentLink === 'function' && !!t.currentLink();
    if (up === this.tunnelUp && this.lastCheck) return;
    this.lastCheck = true;
    this.tunnelUp = up;
    if (up) this.ctx.healthy();
    else
      this.ctx.degraded(
        this.opts.config.failClosed
          ? 'tunnel down: intercepted connections are refused (failClosed)'
          : 'tunnel down: intercepted connections go directly to their destination (fail-open)',
      );
  }
  private lastCheck = false;
  private ticks = 0;
  private reapplied = 0;

  /** Someone else's `flush ruleset` (Debian's nftables.service) removed the table: put it back. */
  private async ensureTable(): Promise<void> {
    if (!this.applied || (await tableExists(this.opts.config.table, this.opts.nft))) return;
    try {
      await applyNft(renderActive(this.spec), this.opts.nft);
      this.reapplied++;
      this.ctx.log.warn('the interception table had been removed by someone else; applied again', {
        table: `inet ${this.opts.config.table}`,
      });
    } catch (e) {
      this.lastError = (e as Error).message;
    }
  }

  private onConnection(sock: net.Socket): void {
    this.conns.add(sock);
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => {});
    void this.handle(sock).catch((e: Error) => {
      this.lastError = e.message;
      this.ctx.log.debug('intercepted connection failed', { error: e.message });
      resetSocket(sock);
    });
  }

  private async handle(sock: net.Socket): Promise<void> {
    const orig = await this.originals.lookup({
      client: sock.remoteAddress ?? '',
      clientPort: sock.remotePort ?? 0,
      local: sock.localAddress ?? '',
      localPort: sock.localPort ?? 0,
    });
    if (!orig) {
      this.failed.no_original_destination++;
      throw new Error(
        `EDGEWAN_ERR_INTERCEPT_NO_ORIGINAL: no conntrack entry for ${sock.remoteAddress}:${sock.remotePort}`,
      );
    }
    if (sock.destroyed) return;
    const target = joinHostPort(orig.host, orig.port);
    let stream;
    try {
      stream = await hub.open(target);
    } catch (e) {
      const msg = (e as Error).message;
      if (!/LINK_DOWN|NOT_RUNNING/.test(msg)) {
        this.failed.tunnel_refused++;
        throw e;
      }
      if (this.opts.config.failClosed) {
        this.failed.tunnel_down_fail_closed++;
        throw e;
      }
      return this.direct(sock, orig.host, orig.port);
    }
    if (sock.destroyed) {
      stream.destroy();
      return;
    }
    this.counts.intercepted++;
    splice(sock, stream);
  }

  /** Fail-open: the router connects to the destination itself (direct.ts), then splices. */
  private async direct(sock: net.Socket, host: string, port: number): Promise<void> {
    let out: net.Socket | null;
    try {
      out = await dialDirect(sock, host, port, {
        timeoutMs: this.opts.directTimeoutMs,
        dial: this.opts.dial,
      });
    } catch (e) {
      this.failed.direct_connect++;
      throw e;
    }
    if (!out) return; // the client went away first: the dial was cancelled
    if (sock.destroyed) {
      out.destroy();
      return;
    }
    this.counts.bypassed++;
    splice(sock, out);
  }

  status(): Record<string, unknown> {
    const c = this.opts.config;
    return {
      enabled: c.enabled,
      table: `inet ${c.table}`,
      tableApplied: this.applied,
      port: c.port,
      rules: this.opts.rules.length,
      mode: c.failClosed ? 'fail-closed' : 'fail-open',
      path: !this.applied ? 'off' : this.tunnelUp ? 'tunnel' : c.failClosed ? 'refused' : 'direct',
      lookup: this.originals?.source ?? null,
      connections: this.conns.size,
      intercepted: this.counts.intercepted,
      bypassed: this.counts.bypassed,
      failed: { ...this.failed },
      lookupReads: this.originals?.reads ?? 0,
      reapplied: this.reapplied,
      lastError: this.lastError,
    };
  }

  metrics(): MetricSample[] {
    const o = this.originals;
    return [
      {
        name: 'intercept_table_applied',
        help: "The engine's nftables table is in place and redirecting (1) or not (0).",
        type: 'gauge',
        value: this.applied ? 1 : 0,
      },
      {
        name: 'intercept_connections',
        help: 'Open intercepted connections.',
        type: 'gauge',
        value: this.conns.size,
      },
      {
        name: 'intercept_intercepted_total',
        help: 'Intercepted connections carried by the tunnel to their original destination.',
        type: 'counter',
        value: this.counts.intercepted,
      },
      {
        name: 'intercept_bypassed_total',
        help: 'Intercepted connections sent directly to their destination because the tunnel was down (fail-open).',
        type: 'counter',
        value: this.counts.bypassed,
      },
      ...Object.entries(this.failed).map(([reason, v]): MetricSample => ({
        name: 'intercept_failed_total',
        help: 'Intercepted connections refused (reset), by reason.',
        type: 'counter',
        value: v,
        labels: { reason },
      })),
      {
        name: 'intercept_lookup_seconds_sum',
        help: 'Time spent reading conntrack for original destinations (one read serves every lookup waiting).',
        type: 'summary',
        value: o?.readSeconds ?? 0,
      },
      {
        name: 'intercept_lookup_seconds_count',
        help: 'Time spent reading conntrack for original destinations (one read serves every lookup waiting).',
        type: 'summary',
        value: o?.reads ?? 0,
      },
    ];
  }

  async stop(graceMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.server?.close();
    this.server = null;
    if (this.applied) {
      const text = this.opts.config.failClosed
        ? renderClosed(this.spec)
        : renderRemove(this.opts.config.table);
      try {
        await applyNft(text, this.opts.nft);
      } catch (e) {
        this.ctx.log.error('could not update the interception table on stop', {
          error: (e as Error).message,
        });
      }
      this.applied = false;
    }
    const until = Date.now() + graceMs;
    while (this.conns.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    for (const s of this.conns) resetSocket(s);
  }
}
