// The fleet core's view of its edges: who may link (revocation, one live link per name), which
// link carries a stream for a named edge, and what each edge has done (per-edge counters for
// /status and /metrics). Names come only from certificates the fleet CA signed, so the number
// of edges (and of labelled metric series) is bounded by the edges enrolled. The tunnel
// component (tunnel/component.ts) owns one registry when it is a core with tunnel.auth.ca.
import type { Logger } from '../../log/logger.ts';
import type { MetricSample } from '../../supervisor/component.ts';
import type { Link } from '../link.ts';
import { newCounters, type Counters } from '../counters.ts';
import { T } from '../../codec/frame.ts';
import { trafficSeries } from '../metrics.ts';
import { REJECT_REASONS, type PeerIdentity, type RejectReason } from './pki.ts';
import { isRevoked, RevocationWatcher, type RevocationList } from './revocation.ts';

/** How long an existing link has to answer a ping when a second link with its name arrives. */
export const STALE_PROBE_MS = 3000;

interface EdgeRecord {
  name: string;
  serial: string;
  address: string | null;
  since: number | null;
  notAfter: number;
  link: Link | null;
  counters: Counters;
  links: number;
  lastDown: string | null;
}

/**
 * Counters whose every write also lands in `shared` (the component's totals), by the same
 * delta: Link and TunnelStream keep doing `counters.x += n` and both views stay exact.
 */
export function teeCounters(shared: Counters, own: Counters): Counters {
  const t = {} as Counters;
  for (const k of Object.keys(own) as Array<keyof Counters>) {
    Object.defineProperty(t, k, {
      enumerable: true,
      get: () => own[k],
      set: (v: number) => {
        shared[k] += v - own[k];
        own[k] = v;
      },
    });
  }
  return t;
}

export class EdgeRegistry {
  private readonly edges = new Map<string, EdgeRecord>();
  /** Counts from 0 for every reason, so the series exist before the first refusal. */
  readonly rejected = new Map<RejectReason, number>(REJECT_REASONS.map((r) => [r, 0]));
  readonly cut = new Map<string, number>(['revoked', 'expired', 'stale'].map((r) => [r, 0]));
  private readonly probing = new WeakSet<Link>();
  readonly watcher: RevocationWatcher | null;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly log: Logger,
    revokedFile: string | null,
    initial: RevocationList | null,
  ) {
    this.watcher = revokedFile
      ? new RevocationWatcher(
          revokedFile,
          {
            applied: (l) => {
              log.info('revocation list loaded', { file: revokedFile, entries: l.entries });
              this.enforce(l);
            },
            rejected: (msg) =>
              log.error('revocation list rejected; the last good list stays in force', {
                file: revokedFile,
                error: msg,
                entries: this.watcher?.list.entries,
              }),
          },
          initial ?? undefined,
        )
      : null;
    // certificates expire while linked too
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const e of this.edges.values())
        if (e.link && !e.link.isClosed && now > e.notAfter)
          this.cutLink(e, 'expired', `certificate expired at ${new Date(e.notAfter).toISOString()}`);
    }, 1000);
    this.timer.unref();
  }

  /** Count and log a refused peer. */
  refuse(reason: RejectReason, message: string, remote: string | undefined, id?: PeerIdentity): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
    this.log.warn('tunnel edge refused', {
      reason,
      edge: id?.name,
      serial: id?.serial,
      remote,
      error: message,
    });
  }

  /** null when an authenticated edge may link now, else why not (already counted and logged). */
  admit(id: PeerIdentity, remote: string | undefined): string | null {
    if (this.watcher && isRevoked(this.watcher.list, id)) {
      const m = `edge "${id.name}" (serial ${id.serial}) is revoked`;
      this.refuse('revoked', m, remote, id);
      return m;
    }
    const live = this.edges.get(id.name);
    if (live?.link && !live.link.isClosed) {
      const m = `edge "${id.name}" is already linked from ${live.address} since ${new Date(live.since ?? 0).toISOString()}; the second link (from ${remote}) is refused`;
      this.refuse('duplicate-name', m, remote, id);
      this.probe(live);
      return m;
    }
    return null;
  }

  /**
   * A second link with a live name may be the same edge after a network cut the core did not
   * see yet: ping the old link, and close it when nothing comes back within STALE_PROBE_MS,
   * so the edge's next retry gets in. A live clone keeps answering and keeps the name.
   */
  private probe(e: EdgeRecord): void {
    const link = e.link!;
    if (this.probing.has(link)) return;
    this.probing.add(link);
    const rx = e.counters.wireRx;
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(Date.now()));
    link.sendFrame(T.PING, 0, b);
    setTimeout(() => {
      this.probing.delete(link);
      if (!link.isClosed && e.counters.wireRx === rx)
        this.cutLink(
          e,
          'stale',
          `no answer to a ping within ${STALE_PROBE_MS} ms after another link presented the name`,
        );
    }, STALE_PROBE_MS).unref();
  }

  /** `link` is now edge `id`'s live link (it was admitted and writes to countersFor(id)). */
  attach(id: PeerIdentity, link: Link, remote: string | null): void {
    const e = this.record(id);
    e.serial = id.serial;
    e.notAfter = id.notAfter;
    e.address = remote;
    e.since = Date.now();
    e.link = link;
    e.links++;
    link.once('close', (reason: string) => {
      if (e.link === link) {
        e.link = null;
        e.since = null;
        e.lastDown = reason;
      }
    });
  }

  /** The per-edge counters a link of this name writes to (kept across reconnects). */
  countersFor(id: PeerIdentity): Counters {
    return this.record(id).counters;
  }

  private record(id: PeerIdentity): EdgeRecord {
    let e = this.edges.get(id.name);
    if (!e) {
      e = {
        name: id.name,
        serial: id.serial,
        address: null,
        since: null,
        notAfter: id.notAfter,
        link: null,
        counters: newCounters(),
        links: 0,
        lastDown: null,
      };
      this.edges.set(id.name, e);
    }
    return e;
  }

  /** The live link of edge `name`, or null. */
  linkOf(name: string): Link | null {
    const l = this.edges.get(name)?.link;
    return l && !l.isClosed ? l : null;
  }

  connectedNames(): string[] {
    return [...this.edges.values()].filter((e) => e.link && !e.link.isClosed).map((e) => e.name);
  }

  private cutLink(e: EdgeRecord, why: string, detail: string): void {
    this.cut.set(why, (this.cut.get(why) ?? 0) + 1);
    this.log.warn('tunnel edge cut off', {
      edge: e.name,
      serial: e.serial,
      remote: e.address,
      reason: why,
      detail,
    });
    e.link!.close(`edge ${e.name} cut off: ${detail}`);
  }

  /** A new list is in force: close the live links it revokes (now, not at the next check). */
  private enforce(list: RevocationList): void {
    for (const e of this.edges.values()) {
      if (
        e.link &&
        !e.link.isClosed &&
        isRevoked(list, { name: e.name, serial: e.serial, notAfter: e.notAfter })
      )
        this.cutLink(e, 'revoked', `revoked (name or serial ${e.serial} in the revocation list)`);
    }
  }

  /** SIGHUP: re-read the revocation list. */
  reload(): void {
    this.watcher?.reload();
  }

  status(): Record<string, unknown> {
    const now = Date.now();
    return {
      edges: [...this.edges.values()].map((e) => {
        const c = e.counters;
        const l = e.link && !e.link.isClosed ? e.link : null;
        const lookups = c.chunkHits + c.chunkMisses;
        return {
          name: e.name,
          serial: e.serial,
          connected: !!l,
          address: e.address,
          connectedSince: e.since ? new Date(e.since).toISOString() : null,
          connectedS: e.since ? Math.floor((now - e.since) / 1000) : null,
          rttMs: l ? l.rttMs : null,
          streams: l ? l.activeStreams : 0,
          peerModelBytes: l?.peerModel?.bytes ?? 0,
          appTxBytes: c.appTx,
          appRxBytes: c.appRx,
          linkTxBytes: c.wireTx,
          linkRxBytes: c.wireRx,
          savedDedupBytes: c.savedDedup,
          savedLz4Bytes: c.savedLz4,
          chunkHitRatio: lookups ? c.chunkHits / lookups : 0,
          streamsOpened: c.streamsOpened,
          links: e.links,
          lastDown: e.lastDown,
          certificateNotAfter: new Date(e.notAfter).toISOString(),
        };
      }),
      rejected: Object.fromEntries(this.rejected),
      cut: Object.fromEntries(this.cut),
      revocation: this.watcher
        ? {
            file: this.watcher.file,
            entries: this.watcher.list.entries,
            loads: this.watcher.loads,
            errors: this.watcher.errors,
            lastError: this.watcher.lastError,
          }
        : null,
    };
  }

  /** Per-edge tunnel series (label edge="NAME") and the fleet's own counters. */
  metrics(): MetricSample[] {
    const out: MetricSample[] = [];
    const k = (name: string, help: string, value: number, labels: Record<string, string>) =>
      out.push({ name, help, type: 'counter', value, labels });
    const g = (name: string, help: string, value: number, labels: Record<string, string>) =>
      out.push({ name, help, type: 'gauge', value, labels });
    for (const e of this.edges.values()) {
      const l = e.link && !e.link.isClosed ? e.link : null;
      out.push(...trafficSeries(e.counters, l ? [l] : [], { edge: e.name }));
      g('tunnel_edge_up', 'Whether the edge has a live link (1) or not (0).', l ? 1 : 0, { edge: e.name });
    }
    for (const [reason, n] of this.rejected)
      k('tunnel_edges_rejected_total', 'Edges refused at link set-up, by reason.', n, { reason });
    for (const [reason, n] of this.cut)
      k(
        'tunnel_edges_cut_total',
        'Live edge links the core closed (revoked, expired, stale), by reason.',
        n,
        { reason },
      );
    if (this.watcher) {
      out.push({
        name: 'tunnel_revocation_list_entries',
        help: 'Entries of the revocation list in force.',
        type: 'gauge',
        value: this.watcher.list.entries,
      });
      out.push({
        name: 'tunnel_revocation_list_errors_total',
        help: 'Re-reads of the revocation list that were rejected (the last good list stayed in force).',
        type: 'counter',
        value: this.watcher.errors,
      });
      out.push({
        name: 'tunnel_revocation_list_loads_total',
        help: 'Revocation lists put in force (including the first).',
        type: 'counter',
        value: this.watcher.loads,
      });
    }
    return out;
  }

  stop(): void {
    clearInterval(this.timer);
    this.watcher?.stop();
  }
}
