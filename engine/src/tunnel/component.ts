// The tunnel Component: owns the chunk store, the TLS listener (core) or the reconnecting
// dialer (edge), the live links, the degrade chain and the metrics. Streams the peer opens
// are connected to their target here; local listeners (proxy/) open streams through the
// TunnelHub this component registers with.
import net from 'node:net';
import tls from 'node:tls';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Component, ComponentContext, MetricSample } from '../supervisor/component.ts';
import { chunkerParams, type ChunkerParams } from '../codec/chunker.ts';
import { lz4Impl } from '../codec/block.ts';
import { ChunkStore } from '../cache/store.ts';
import { Link } from './link.ts';
import { newCounters, type Mode } from './counters.ts';
import { ReadGate } from './gate.ts';
import { startGcGuard, type GcGuard } from './gc-guard.ts';
import { makeTransport, type AuthConfig, type Transport } from './transport.ts';
import { hub } from './hub.ts';
import { tunnelAddress } from './hostport.ts';
import { splice, resetSocket } from '../proxy/splice.ts';
import { lingerStatus } from '../proxy/linger.ts';
import { endCheckStatus } from '../proxy/end-check.ts';
import { tunnelMetrics } from './metrics.ts';
import type { TunnelStream } from './stream.ts';
import { EdgeRegistry, teeCounters } from './fleet/edges.ts';
import type { PeerIdentity } from './fleet/pki.ts';
import { CoreChoice, probeCore } from './fleet-failover.ts';
import { LinkMemory } from './link-memory.ts';

/** Memory one open stream costs in each process besides its data (see fitCache). */
const PER_STREAM_COST = 16 * 1024;

/**
 * How long an edge's dial to a core may take, TCP connect and TLS handshake together. 10 s:
 * the 10 s a stream's target gets; it lets a lossy link resend the SYN three times (Linux:
 * after 1, 3 and 7 s) and a TLS 1.3 handshake over a slow satellite hop, and cuts failover
 * to the next core from ~2 min (the OS SYN timeout) to 10 s.
 */
export const CORE_CONNECT_TIMEOUT_MS = 10_000;

export interface TunnelOptions {
  role: 'edge' | 'core';
  stateDir: string;
  listen: string | null;
  /** edge: the core, or several in order of preference (fleet-failover.ts) */
  connect: string | readonly string[] | null;
  /** edge with several cores: probe the first every this many seconds and move back to it; 0: stay */
  failbackS?: number;
  /** edge: a dial to a core must finish its TLS handshake within this (default 10 s), else the next core */
  connectTimeoutMs?: number;
  auth: AuthConfig;
  /** bytes; 0 disables the disk tier */
  diskMaxBytes: number;
  chunkSize?: number;
  windowBytes?: number;
  backoffMs?: { initial: number; max: number };
  pingIntervalMs?: number;
  /** test hook: start in this mode */
  mode?: Mode;
}

export class TunnelComponent implements Component {
  readonly name = 'tunnel';
  readonly counters = newCounters();
  store: ChunkStore | null = null;
  /** Admission control for reading local sockets, shared by every link of this process. */
  readonly gate = new ReadGate(8 << 20);
  private ctx!: ComponentContext;
  private mode: Mode;
  private readonly links = new Set<Link>();
  private server: tls.Server | null = null;
  private transport!: Transport;
  private chunker!: ChunkerParams;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private gcGuard: GcGuard | null = null;
  private cacheBudget = 0;
  /** The budget split between the chunk store, the sketch index and the links' peer models (link-memory.ts). */
  linkMemory: LinkMemory | null = null;
  private fitTimer: NodeJS.Timeout | null = null;
  private backoff: number;
  private readonly locals = new Set<net.Socket>();
  private readonly peers = new Set<tls.TLSSocket>(); // every TLS socket, so stop() can cut them all
  private state: 'down' | 'connecting' | 'up' | 'listening' | 'unconfigured' = 'down';
  private lastError: string | null = null;
  /** Core with tunnel.auth.ca: the fleet's edges by name (fleet/edges.ts). */
  fleet: EdgeRegistry | null = null;
  /** Edge: the cores of tunnel.connect and which one is in use. */
  private cores: CoreChoice | null = null;
  private failbackTimer: NodeJS.Timeout | null = null;
  private failingBack = false;

  constructor(readonly opts: TunnelOptions) {
    this.mode = opts.mode ?? 'dedup';
    this.backoff = opts.backoffMs?.initial ?? 250;
  }

  /** The address the core listens on (after start), for tests and status. */
  address(): net.AddressInfo | null {
    return (this.server?.address() as net.AddressInfo | null) ?? null;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.ctx = ctx;
    const o = this.opts;
    if (o.role === 'edge' && (!o.connect || o.connect.length === 0)) {
      this.state = 'unconfigured';
      ctx.unconfigured('no tunnel.connect: this edge has no core to talk to');
      return;
    }
    if (o.role === 'edge')
      this.cores = new CoreChoice(typeof o.connect === 'string' ? [o.connect] : o.connect!);
    this.transport = makeTransport(o.role, o.auth);
    const f = this.transport.fleet;
    if (o.role === 'core' && f) this.fleet = new EdgeRegistry(ctx.log, f.revoked, f.list);
    this.gate.budget = this.sendBudget();
    this.gcGuard = startGcGuard(() => this.externalLimit());
    this.chunker = chunkerParams({ avgSize: o.chunkSize ?? 8192 });
    const diskDir = join(o.stateDir, 'chunks');
    this.cacheBudget = Math.max(1 << 20, ctx.budgetBytes());
    this.linkMemory = new LinkMemory(this.cacheBudget, this.chunker.avgSize, this.buffersBudget());
    this.store = new ChunkStore({
      memoryBytes: this.linkMemory.split.storeBytes,
      disk: o.diskMaxBytes > 0 ? { dir: diskDir, maxBytes: o.diskMaxBytes } : undefined,
      onDiskFailure: (e) => {
        ctx.log.warn('chunk disk store failed; continuing with memory-only dedup', { error: e.message });
        this.reportMode();
      },
      onRebuild: (why) =>
        ctx.log.warn('chunk disk store damaged; rebuilt empty with a new identity', { reason: why }),
    });
    this.flushTimer = setInterval(() => this.store?.flush(), 1000);
    this.flushTimer.unref();
    this.fitTimer = setInterval(() => this.fitCache(), 250);
    this.fitTimer.unref();
    this.reportMode();
    hub.register(this);
    if (o.role === 'core') {
      const [host, port] = tunnelAddress(o.listen ?? '[::]:9618');
      this.server = tls.createServer(this.transport.server, (sock) => {
        this.track(sock);
        this.onSecure(sock);
      });
      this.server.on('connection', (raw: net.Socket) => {
        raw.on('error', () => {});
        this.locals.add(raw);
        raw.once('close', () => this.locals.delete(raw));
      });
      this.server.on('tlsClientError', (e, sock) => {
        ctx.log.warn('tunnel peer rejected during TLS handshake', {
          error: e.message,
          remote: sock.remoteAddress,
        });
      });
      await new Promise<void>((resolve, reject) => {
        this.server!.once('error', reject);
        this.server!.listen(port, host, () => {
          this.server!.off('error', reject);
          resolve();
        });
      });
      this.server.on('error', (e) => ctx.fail(e));
      this.state = 'listening';
    } else {
      this.dial();
    }
  }

  /** A link that can carry streams now, or null. Core: the most recently connected edge. */
  currentLink(): Link | null {
    let best: Link | null = null;
    for (const l of this.links) if (!l.isClosed) best = l;
    return best;
  }

  /**
   * Open a stream to `target` on the peer. A fleet core needs `edge`, the name of the edge to
   * use, and fails at once when that edge has no live link; elsewhere `edge` is ignored.
   */
  async open(target: string, edge?: string): Promise<TunnelStream> {
    let l: Link | null;
    if (this.fleet) {
      if (!edge)
        throw new Error(
          `EDGEWAN_ERR_TUNNEL_EDGE_UNNAMED: this core serves a fleet; name the edge for ${target} (forwards[].edge, or the SOCKS username)`,
        );
      l = this.fleet.linkOf(edge);
      if (!l)
        throw new Error(
          `EDGEWAN_ERR_TUNNEL_EDGE_DOWN: edge "${edge}" is not connected (connected: ${this.fleet.connectedNames().join(', ') || 'none'})`,
        );
    } else l = this.currentLink();
    if (!l) throw new Error('EDGEWAN_ERR_TUNNEL_LINK_DOWN: the tunnel to the peer is not connected');
    l.counters.streamsOpened++;
    const s = l.open(target);
    this.fitCache(); // a burst of streams must shrink the cache now, not at the next 250 ms tick
    return s;
  }

  private dial(): void {
    if (this.stopped) return;
    const [host, port] = tunnelAddress(this.cores!.current);
    this.state = 'connecting';
    const sock = tls.connect({ ...this.transport.client, host, port, servername: undefined });
    this.track(sock);
    sock.setNoDelay(true);
    let linked = false;
    // Without a bound, a core that drops our SYNs holds the edge for the OS TCP timeout
    // (~2 min with tcp_syn_retries 6) and one that accepts but never answers TLS holds it
    // forever, before the next core of tunnel.connect is tried.
    const ms = this.opts.connectTimeoutMs ?? CORE_CONNECT_TIMEOUT_MS;
    const core = this.cores!.current;
    const timer = setTimeout(
      () =>
        sock.destroy(
          new Error(`EDGEWAN_ERR_TUNNEL_CONNECT_TIMEOUT: no TLS handshake with core ${core} within ${ms} ms`),
        ),
      ms,
    );
    sock.once('close', () => clearTimeout(timer));
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      linked = this.onSecure(sock);
    });
    const retry = (why: string) => {
      if (linked || this.stopped || this.retryTimer) return;
      this.lastError = why;
      this.state = 'down';
      const failed = this.cores!.current;
      const round = this.cores!.advance();
      this.ctx.log.warn('tunnel connect failed; retrying', {
        error: why,
        core: failed,
        next: this.cores!.current,
        inMs: this.backoff,
      });
      this.scheduleDial(!round);
    };
    sock.once('error', (e) => retry(e.message));
    sock.once('close', () => retry('connection closed during handshake'));
  }

  private track(sock: tls.TLSSocket): void {
    this.peers.add(sock);
    sock.once('close', () => this.peers.delete(sock));
  }

  /** `quick`: the next core of the list is tried after the initial backoff, without growing it. */
  private scheduleDial(quick = false): void {
    const max = this.opts.backoffMs?.max ?? 30000;
    const initial = this.opts.backoffMs?.initial ?? 250;
    const wait = Math.round((quick ? initial : this.backoff) * (0.8 + 0.4 * Math.random()));
    if (!quick) this.backoff = Math.min(max, this.backoff * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.dial();
    }, wait);
  }

  /** An authenticated-at-TLS-level socket: check the peer, then run a Link over it. */
  private onSecure(sock: tls.TLSSocket): boolean {
    let id: PeerIdentity | null = null;
    if (this.fleet && !this.stopped) {
      // a fleet core: the CA check, then revocation and one live link per name
      const c = this.transport.fleet!.identify(sock);
      const why = c.ok
        ? this.fleet.admit(c.id, sock.remoteAddress)
        : (this.fleet.refuse(c.reason, c.message, sock.remoteAddress), c.message);
      if (why) {
        sock.destroy();
        return false;
      }
      id = (c as { id: PeerIdentity }).id;
    }
    const bad = id ? null : this.transport.verify(sock);
    if (bad || this.stopped) {
      this.ctx.log.warn('tunnel peer rejected', { reason: bad ?? 'stopping', remote: sock.remoteAddress });
      sock.destroy();
      return false;
    }
    sock.setNoDelay(true);
    const store = this.store!;
    // A fleet core never takes its own store as a picture of an edge's: it holds every edge's
    // chunks, so references to what only other edges sent would cost that edge NEED round
    // trips. It references only chunks that crossed this link (peer-model.ts).
    const peerFile = id ? null : join(this.opts.stateDir, 'chunks', `peer-of-${this.opts.role}`);
    const link = new Link(sock, {
      role: this.opts.role,
      store,
      chunker: this.chunker,
      windowBytes: this.opts.windowBytes ?? 32 * 1024,
      log: this.ctx.log,
      mode: () => this.mode,
      counters: id ? teeCounters(this.counters, this.fleet!.countersFor(id)) : this.counters,
      pingIntervalMs: this.opts.pingIntervalMs,
      recvBudgetBytes: this.linkMemory!.recvBytes,
      gate: this.gate,
      peerModelBytes: this.linkMemory!.peerModelBytes,
      sketches: this.linkMemory!.sketches,
      runs: this.linkMemory!.runs,
      rememberedPeer: () =>
        peerFile && store.diskEnabled && existsSync(peerFile) ? readFileSync(peerFile) : null,
      rememberPeer: (cacheId) => {
        if (peerFile && store.diskEnabled) {
          try {
            writeFileSync(peerFile, cacheId);
          } catch {
            /* advisory only */
          }
        }
      },
    });
    this.links.add(link);
    this.relink();
    if (id) this.fleet!.attach(id, link, sock.remoteAddress ?? null);
    link.on('ready', () => {
      this.state = 'up';
      this.backoff = this.opts.backoffMs?.initial ?? 250;
      this.lastError = null;
      if (this.cores) {
        this.ctx.log.info('tunnel linked to core', {
          core: this.cores.current,
          preferred: this.cores.preferred,
        });
        this.armFailback(link);
      }
    });
    link.on('stream', (s: TunnelStream) => this.connectTarget(link, s));
    link.on('close', (reason: string) => {
      this.links.delete(link);
      this.relink();
      this.ctx.log.warn('tunnel link down', { reason, ...(id ? { edge: id.name } : {}) });
      this.lastError = reason;
      if (this.opts.role === 'edge' && !this.stopped) {
        this.counters.reconnects++;
        this.state = 'down';
        if (this.failbackTimer) {
          clearInterval(this.failbackTimer);
          this.failbackTimer = null;
        }
        // failover: a lost link moves on to the next core at once (failback: to the first)
        if (this.failingBack) {
          this.failingBack = false;
          this.cores!.backToFirst();
          this.scheduleDial(true);
        } else this.scheduleDial(!this.cores!.advance());
      }
    });
    return true;
  }

  /**
   * On a later core with failbackS: probe the first core every failbackS seconds; once a probe
   * passed, move back as soon as this link carries no stream (checked every second).
   */
  private armFailback(link: Link): void {
    const every = (this.opts.failbackS ?? 0) * 1000;
    if (!every || this.cores!.preferred) return;
    let probing = false;
    let reachable = false;
    let lastProbe = Date.now();
    this.failbackTimer = setInterval(
      () => {
        if (probing || link.isClosed) return;
        if (reachable) {
          if (link.activeStreams > 0) return; // wait for the streams in flight to end
          this.ctx.log.info('tunnel failing back to the preferred core', {
            from: this.cores!.current,
            to: this.cores!.cores[0],
          });
          this.failingBack = true;
          link.close('failing back to the preferred core');
          return;
        }
        if (Date.now() - lastProbe < every) return;
        probing = true;
        lastProbe = Date.now();
        void probeCore(this.cores!.cores[0], this.transport).then((why) => {
          probing = false;
          reachable = why === null;
        });
      },
      Math.min(every, 1000),
    );
    this.failbackTimer.unref();
  }

  /** The peer opened a stream: connect its target and join the two. */
  private connectTarget(link: Link, s: TunnelStream): void {
    let hp: [string, number];
    try {
      hp = tunnelAddress(s.target);
    } catch (e) {
      link.refuse(s, (e as Error).message);
      return;
    }
    // allowHalfOpen: the target's FIN must not cut off what we still have to write to it.
    this.fitCache();
    const sock = net.connect({ host: hp[0], port: hp[1], allowHalfOpen: true });
    sock.pause(); // no read before splice() has a read slot for it (tunnel/gate.ts)
    this.locals.add(sock);
    const timer = setTimeout(
      () => sock.destroy(new Error('EDGEWAN_ERR_TUNNEL_CONNECT_TIMEOUT: connect timed out after 10 s')),
      10000,
    );
    let connected = false;
    sock.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      sock.setNoDelay(true);
      link.accept(s);
      splice(sock, s, () => this.locals.delete(sock));
    });
    sock.once('error', (e) => {
      if (connected) return; // after connect, splice handles errors
      clearTimeout(timer);
      this.locals.delete(sock);
      link.refuse(s, `cannot connect ${s.target}: ${e.message}`);
    });
  }

  private buffersBudget(): number {
    let b = 0;
    try {
      b = Number((this.ctx.budgets() as unknown as { buffers?: number }).buffers ?? 0);
    } catch {
      /* older context */
    }
    return b > 0 ? b : 0;
  }

  /** Links came or went: split the budget again (peer models trimmed at once, the store shrunk). */
  private relink(): void {
    this.linkMemory?.relink(this.links);
    this.fitCache();
  }

  /** Bytes read from local sockets and not yet sent: half of memory.split.buffers (gate.ts). */
  private sendBudget(): number {
    const b = this.buffersBudget();
    return b > 0 ? Math.max(1 << 20, b >>> 1) : 8 << 20;
  }

  /**
   * ArrayBuffer memory the tunnel may hold before a GC is forced (gc-guard.ts): the chunk
   * cache, memory.split.buffers and 4 MiB of slack. 0 (no guard) without memory budgets.
   */
  private externalLimit(): number {
    const b = this.buffersBudget();
    return b > 0 && this.store ? this.store.memoryLimit + (b >>> 1) + (4 << 20) : 0;
  }

  /** Degrade chain: dedup (disk+memory) → dedup (memory) → lz4 → raw. */
  setMode(m: Mode, why?: string): void {
    this.mode = m;
    if (why) this.ctx.log.warn('tunnel mode changed', { mode: m, reason: why });
    this.reportMode();
  }

  private reportMode(): void {
    if (!this.ctx) return;
    const diskWanted = this.opts.diskMaxBytes > 0;
    if (this.mode !== 'dedup') this.ctx.degraded(`data reduction mode ${this.mode}`);
    else if (diskWanted && this.store && !this.store.diskEnabled)
      this.ctx.degraded(
        `chunk disk store unavailable (${this.store.diskFailure?.message ?? 'unknown'}); dedup memory-only`,
      );
    else this.ctx.healthy();
  }

  get modeName(): string {
    if (this.mode !== 'dedup') return this.mode;
    return this.store?.diskEnabled ? 'dedup-disk' : 'dedup-memory';
  }

  status(): Record<string, unknown> {
    const l = this.currentLink();
    return {
      role: this.opts.role,
      state: this.state,
      mode: this.modeName,
      ...(this.cores
        ? { core: this.cores.current, cores: this.cores.cores, coreSwitches: this.cores.switches }
        : {}),
      lz4: lz4Impl(),
      auth: this.transport?.describe,
      links: this.links.size,
      activeStreams: [...this.links].reduce((n, k) => n + k.activeStreams, 0),
      rttMs: l?.rttMs ?? null,
      lastError: this.lastError,
      ...this.counters,
      readGate: {
        budgetBytes: this.gate.budget,
        heldBytes: this.gate.held,
        peakHeldBytes: this.gate.peakHeld,
        reading: this.gate.armedCount,
        waiting: this.gate.waitingCount,
      },
      abortOnExit: lingerStatus(),
      endCheck: endCheckStatus(),
      linkQueuedBytes: [...this.links].reduce((n, k) => n + k.socket.writableLength, 0),
      gcForced: this.gcGuard?.forced ?? 0,
      gcGuard: this.gcGuard
        ? {
            gapMs: this.gcGuard.gapMs,
            maxGapMs: this.gcGuard.maxGapMs,
            limitBytes: this.gcGuard.limitBytes,
            arrayBuffersBytes: this.gcGuard.arrayBuffers,
          }
        : null,
      cache: this.store
        ? {
            memoryBytes: this.store.memoryBytes,
            memoryLimit: this.store.memoryLimit,
            diskBytes: this.store.diskBytes,
            diskLimit: this.store.diskLimit,
          }
        : null,
      memory: this.linkMemory?.status(this.store) ?? null,
      ...(this.fleet ? { fleet: this.fleet.status() } : {}),
    };
  }

  metrics(): MetricSample[] {
    // a fleet core gives the traffic series per edge (label edge) instead of one total
    const all = [
      ...tunnelMetrics(this, [...this.links], !this.fleet),
      ...(this.linkMemory?.metrics(this.store) ?? []),
    ];
    return this.fleet ? [...all, ...this.fleet.metrics()] : all;
  }

  /** SIGHUP while this component keeps running: re-read the files it watches (revocation list). */
  reloadFiles(): void {
    this.fleet?.reload();
  }

  resize(budgetBytes: number): void {
    this.cacheBudget = Math.max(1 << 20, budgetBytes);
    this.linkMemory?.relink(this.links, this.cacheBudget);
    this.fitCache();
  }

  /**
   * Open connections cost memory too (sockets, stream objects: ~16 KiB per stream in each
   * process, measured with 1,000 streams), and it comes out of the same limit. So the memory
   * tier of the chunk cache gives way while many streams are open, down to a quarter of its
   * budget; the disk tier still holds every chunk, so deduplication goes on (a little slower).
   * It starts from what the links' peer models and the sketch index leave (link-memory.ts).
   * Resized in 1 MiB steps: down at once (the budget is a bound), up only when the target
   * moved by 2 MiB or more (a resize rebuilds the LRU).
   */
  private fitCache(): void {
    if (!this.store) return;
    const streams = [...this.links].reduce((n, k) => n + k.activeStreams, 0);
    const top = this.linkMemory?.split.storeBytes ?? this.cacheBudget;
    const want = Math.max(Math.min(top, this.cacheBudget >>> 2), top - streams * PER_STREAM_COST, 1 << 20);
    const target = Math.floor(want / (1 << 20)) * (1 << 20);
    if (
      target < this.store.memoryLimit ||
      target - this.store.memoryLimit >= 2 << 20 ||
      (want === top && this.store.memoryLimit < target)
    )
      this.store.resize(target);
  }

  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    hub.unregister(this);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.gcGuard?.stop();
    this.fleet?.stop();
    if (this.failbackTimer) clearInterval(this.failbackTimer);
    if (this.fitTimer) clearInterval(this.fitTimer);
    this.server?.close();
    // Let streams finish within the grace period, then cut what is left.
    const until = Date.now() + graceMs;
    while (Date.now() < until && [...this.links].some((l) => l.activeStreams > 0))
      await new Promise((r) => setTimeout(r, 50));
    for (const l of [...this.links]) l.close('tunnel stopping');
    for (const s of this.locals) resetSocket(s);
    for (const s of this.peers) s.destroy();
    try {
      this.store?.close();
    } catch {
      /* never reject */
    }
  }
}
