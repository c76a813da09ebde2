// UDP and TCP listeners (RFC 1035 §4.2, RFC 7766 for TCP framing and pipelining) in front of
// the Resolver, with the optional client-network ACL. The UDP path answers cache hits
// synchronously from the message handler. Over TCP a client can pipeline queries without
// reading the answers, so every TCP write is bounded (docs/dns.md, "TCP limits"): a
// connection stops reading (and parsing what it already read) while its unsent answers
// exceed TCP_LIMITS.connQueue or it has TCP_LIMITS.connInflight answers still being resolved,
// and while all connections' unsent bytes together exceed TCP_LIMITS.totalQueue only those
// with nothing unsent answer (one query at a time). So at most totalQueue + maxConnections x
// (connQueue + one 64 KiB answer) bytes wait, in practice the per-connection figure. Connections
// are also capped in number, idle-timed-out, and closed after TCP_LIMITS.connQueries queries.
import dgram from 'node:dgram';
import net from 'node:net';
import { BlockList, isIP, isIPv6 } from 'node:net';
import dns from 'node:dns';
import type { Logger } from '../log/logger.ts';
import { dnsAddress } from './options.ts';
import { cidrProblem } from './records.ts';
import type { Resolver } from './resolver.ts';

export const TCP_LIMITS = {
  /** no byte moved either way for this long: the connection is closed */
  idleMs: 10_000,
  maxConnections: 256,
  /** a connection stops reading while more than this many of its answer bytes are unsent */
  connQueue: 64 * 1024,
  /** ... or while this many of its queries are still being resolved (upstream misses) */
  connInflight: 64,
  /** every connection stops reading while their unsent answer bytes add up to more than this */
  totalQueue: 4 * 1024 * 1024,
  /** queries answered on one connection before it is closed (the client reconnects) */
  connQueries: 10_000,
};

let lastAddress = '';
let lastFamily = 0; // most answers go to the address the previous one went to
/**
 * Replies go to the literal address a datagram came from: resolving it through dns.lookup (the
 * default) costs an isIP check and a nextTick per answer, a visible share of a cache hit.
 */
export function literalLookup(
  address: string,
  options: dns.LookupOneOptions,
  cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  if (address === lastAddress) {
    cb(null, address, lastFamily);
    return;
  }
  const fam = isIP(address);
  if (fam) {
    lastAddress = address;
    lastFamily = fam;
  }
  if (fam) cb(null, address, fam);
  else dns.lookup(address, options, cb); // a host name in `listen` (bind only); dgram passes the family number
}

/** Allow-list of client networks; null allows everyone. */
export function makeAcl(cidrs: string[]): BlockList | null {
  if (cidrs.length === 0) return null;
  const bl = new BlockList();
  for (const c of cidrs) {
    const bad = cidrProblem(c);
    if (bad) throw Object.assign(new Error(`dns.allowFrom: ${bad}`), { code: 'EDGEWAN_ERR_DNS_ACL' });
    const [addr, bits] = c.split('/');
    const v6 = isIPv6(addr);
    const prefix = bits === undefined ? (v6 ? 128 : 32) : Number(bits);
    bl.addSubnet(addr, prefix, v6 ? 'ipv6' : 'ipv4');
  }
  return bl;
}

export function aclAllows(acl: BlockList | null, address: string): boolean {
  if (!acl) return true;
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return acl.check(m[1], 'ipv4');
  return acl.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
}

export class DnsServer {
  private readonly udp: dgram.Socket[] = [];
  private readonly tcp: net.Server[] = [];
  private readonly conns = new Set<net.Socket>();
  /** TCP answer bytes written but not yet handed to the kernel, over all connections */
  private tcpQueued = 0;
  /** connections that stopped reading because of tcpQueued, pumped again when it falls */
  private readonly blocked = new Set<() => void>();
  /** TCP counters for /status: throttled counts a connection stopping to read (limits above) */
  readonly tcpStats = { queuedPeak: 0, throttled: 0, closedAtQueryLimit: 0, idleClosed: 0 };
  /** "udp 127.0.0.1:5353"-style, with the real port when 0 was asked for */
  readonly bound: string[] = [];
  /** the bound addresses with their real ports, for the worker threads */
  readonly endpoints: Array<{ host: string; port: number }> = [];
  /** UDP datagrams received by this (the main) thread's sockets */
  received = 0;

  /** reusePort: share the UDP ports with worker threads (workers.ts); TCP stays exclusive. */
  constructor(
    private readonly resolver: Resolver,
    private readonly acl: BlockList | null,
    private readonly log: Logger,
    private readonly reusePort = false,
  ) {}

  /** Binds every address or none: on a failure whatever was bound is closed again (no leaked port for the restart). */
  async listen(addrs: string[]): Promise<void> {
    try {
      for (const a of addrs) await this.listenOne(a);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private async listenOne(a: string): Promise<void> {
    const { host, port } = dnsAddress(a, 53);
    // port 0: the kernel picks the UDP port and TCP takes the same number, which a loopback TCP
    // connection may already use — then try another UDP port (a fixed port fails at once)
    for (let attempt = 1; ; attempt++) {
      try {
        await this.bindPair(host, port);
        return;
      } catch (err) {
        if (port !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw err;
      }
    }
  }

  private async bindPair(host: string, port: number): Promise<void> {
    const sock = dgram.createSocket({
      type: isIPv6(host) ? 'udp6' : 'udp4',
      lookup: literalLookup,
      ...(this.reusePort ? { reusePort: true } : {}),
    } as dgram.SocketOptions);
    try {
      await new Promise<void>((res, rej) => {
        sock.once('error', rej);
        sock.bind(port, host, () => {
          sock.off('error', rej);
          res();
        });
      });
    } catch (err) {
      try {
        sock.close();
      } catch {
        /* never bound */
      }
      throw err;
    }
    const realPort = sock.address().port;
    // TCP on the same port as UDP (port 0 means: the port the kernel gave the UDP socket)
    const srv = net.createServer((c) => this.onTcp(c));
    srv.maxConnections = TCP_LIMITS.maxConnections;
    try {
      await new Promise<void>((res, rej) => {
        srv.once('error', rej);
        srv.listen(realPort, host, () => {
          srv.off('error', rej);
          res();
        });
      });
    } catch (err) {
      await new Promise<void>((res) => sock.close(() => res()));
      throw err;
    }
    sock.on('error', (err) => this.log.warn('dns udp socket error', { error: err }));
    sock.on('message', (msg, rinfo) => this.onUdp(sock, msg, rinfo));
    this.udp.push(sock);
    this.tcp.push(srv);
    const shown = isIPv6(host) ? `[${host}]:${realPort}` : `${host}:${realPort}`;
    this.bound.push(shown);
    this.endpoints.push({ host, port: realPort });
  }

  private onUdp(sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.received++;
    if (this.acl && !aclAllows(this.acl, rinfo.address)) {
      this.resolver.counters.refusedAcl++;
      return;
    }
    this.answerUdp(sock, msg, rinfo.port, rinfo.address);
  }

  /**
   * A datagram a worker thread received on listen address i but could not answer from memory
   * (ACL already checked there): answered from this thread's socket on the same address.
   */
  answerForWorker(i: number, msg: Buffer, port: number, address: string): void {
    const sock = this.udp[i];
    if (sock) this.answerUdp(sock, msg, port, address);
  }

  private answerUdp(sock: dgram.Socket, msg: Buffer, port: number, address: string): void {
    let r;
    try {
      r = this.resolver.answer(msg, false);
    } catch (err) {
      this.log.error('dns query handling failed', { error: err as Error });
      return;
    }
    if (r === null) return;
    if (Buffer.isBuffer(r)) {
      sock.send(r, port, address);
      return;
    }
    r.then(
      (b) => {
        if (b) sock.send(b, port, address);
      },
      (err) => this.log.error('dns query handling failed', { error: err as Error }),
    );
  }

  /** TCP bytes queued for all clients now (status, tests). */
  get tcpQueuedBytes(): number {
    return this.tcpQueued;
  }
  get tcpConnections(): number {
    return this.conns.size;
  }

  private onTcp(c: net.Socket): void {
    if (this.acl && !aclAllows(this.acl, c.remoteAddress ?? '')) {
      this.resolver.counters.refusedAcl++;
      c.destroy();
      return;
    }
    const L = TCP_LIMITS;
    this.conns.add(c);
    c.setTimeout(L.idleMs, () => {
      this.tcpStats.idleClosed++;
      c.destroy();
    });
    c.on('error', () => c.destroy());
    let buf = Buffer.alloc(0);
    let queued = 0; // this connection's answer bytes not yet handed to the kernel
    let inflight = 0; // queries still being resolved
    let queries = 0;
    let reading = true;
    let closed = false;
    const stop = () => {
      if (reading) {
        reading = false;
        this.tcpStats.throttled++;
        c.pause();
      }
    };
    const written = (n: number) => {
      if (closed) return;
      queued -= n;
      this.tcpQueued -= n;
      if (this.tcpQueued <= L.totalQueue && this.blocked.size) this.unblock();
      pump();
    };
    const send = (b: Buffer | null) => {
      if (!b || c.destroyed) return;
      const frame = Buffer.allocUnsafe(2 + b.length);
      frame.writeUInt16BE(b.length);
      b.copy(frame, 2);
      queued += frame.length;
      this.tcpQueued += frame.length;
      if (this.tcpQueued > this.tcpStats.queuedPeak) this.tcpStats.queuedPeak = this.tcpQueued;
      c.write(frame, () => written(frame.length));
    };
    /** Answer what has arrived while the limits allow; read more only when all of it is answered. */
    const pump = () => {
      if (closed) return;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        if (queries >= L.connQueries) break;
        if (queued > L.connQueue || inflight >= L.connInflight) {
          stop();
          return;
        }
        // over the total, a connection with nothing unsent may still answer one query at a
        // time: stalled clients hold the budget, new ones are not starved by them
        if (this.tcpQueued > L.totalQueue && queued > 0) {
          stop();
          this.blocked.add(pump);
          return;
        }
        const msg = Buffer.from(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        queries++;
        try {
          const r = this.resolver.answer(msg, true);
          if (r === null || Buffer.isBuffer(r)) send(r);
          else {
            inflight++;
            r.then(
              (b) => {
                inflight--;
                send(b);
                pump();
              },
              () => c.destroy(),
            );
          }
        } catch {
          c.destroy();
          return;
        }
      }
      if (queries >= L.connQueries) {
        // the query limit: no more reading; close once every answer is out
        stop();
        if (inflight === 0 && queued === 0 && !c.writableEnded) {
          this.tcpStats.closedAtQueryLimit++;
          c.end();
        }
        return;
      }
      if (!reading) {
        reading = true;
        c.resume();
      }
    };
    c.on('close', () => {
      closed = true;
      this.conns.delete(c);
      this.blocked.delete(pump);
      this.tcpQueued -= queued;
      queued = 0;
      if (this.tcpQueued <= L.totalQueue && this.blocked.size) this.unblock();
    });
    c.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      pump();
    });
  }

  /** The total fell under TCP_LIMITS.totalQueue: let the connections that waited for it go on. */
  private unblock(): void {
    const waiting = [...this.blocked];
    this.blocked.clear();
    setImmediate(() => {
      for (const p of waiting) p();
    });
  }

  async close(): Promise<void> {
    for (const s of this.udp) {
      await new Promise<void>((res) => {
        try {
          s.close(() => res());
        } catch {
          res();
        }
      }); // never bound: nothing to close
    }
    for (const s of this.tcp) s.close();
    for (const c of this.conns) c.destroy();
    await Promise.all(
      this.tcp.map((s) => new Promise<void>((res) => (s.listening ? s.once('close', () => res()) : res()))),
    );
    this.udp.length = 0;
    this.tcp.length = 0;
    this.endpoints.length = 0;
  }
}
