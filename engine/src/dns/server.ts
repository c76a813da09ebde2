// UDP and TCP listeners (RFC 1035 §4.2, RFC 7766 for TCP framing and pipelining) in front of
// the Resolver, with the optional client-network ACL. The UDP path answers cache hits
// synchronously from the message handler. TCP connections are capped and idle-timed-out so
// a slow client cannot pin memory.
import dgram from 'node:dgram';
import net from 'node:net';
import { BlockList, isIP, isIPv4, isIPv6 } from 'node:net';
import dns from 'node:dns';
import type { Logger } from '../log/logger.ts';
import { splitHostPort } from './options.ts';
import type { Resolver } from './resolver.ts';

const TCP_IDLE_MS = 10_000;
const TCP_MAX_CONNECTIONS = 256;

let lastAddress = ''; let lastFamily = 0; // most answers go to the address the previous one went to
/**
 * Replies go to the literal address a datagram came from: resolving it through dns.lookup (the
 * default) costs an isIP check and a nextTick per answer, a visible share of a cache hit.
 */
export function literalLookup(address: string, options: dns.LookupOneOptions, cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  if (address === lastAddress) { cb(null, address, lastFamily); return; }
  const fam = isIP(address);
  if (fam) { lastAddress = address; lastFamily = fam; }
  if (fam) cb(null, address, fam);
  else dns.lookup(address, options, cb); // a host name in `listen` (bind only); dgram passes the family number
}

/** Allow-list of client networks; null allows everyone. */
export function makeAcl(cidrs: string[]): BlockList | null {
  if (cidrs.length === 0) return null;
  const bl = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    const v6 = isIPv6(addr);
    if (!v6 && !isIPv4(addr)) throw Object.assign(new Error(`dns.allowFrom: "${c}" is not an address or CIDR`), { code: 'EDGEWAN_ERR_DNS_ACL' });
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
  /** "udp 127.0.0.1:5353"-style, with the real port when 0 was asked for */
  readonly bound: string[] = [];
  /** the bound addresses with their real ports, for the worker threads */
  readonly endpoints: Array<{ host: string; port: number }> = [];
  /** UDP datagrams received by this (the main) thread's sockets */
  received = 0;

  /** reusePort: share the UDP ports with worker threads (workers.ts); TCP stays exclusive. */
  constructor(private readonly resolver: Resolver, private readonly acl: BlockList | null, private readonly log: Logger,
    private readonly reusePort = false) {}

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
    const { host, port } = splitHostPort(a, 53);
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
    const sock = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', lookup: literalLookup, ...(this.reusePort ? { reusePort: true } : {}) } as dgram.SocketOptions);
    try {
      await new Promise<void>((res, rej) => { sock.once('error', rej); sock.bind(port, host, () => { sock.off('error', rej); res(); }); });
    } catch (err) {
      try { sock.close(); } catch { /* never bound */ }
      throw err;
    }
    const realPort = sock.address().port;
    // TCP on the same port as UDP (port 0 means: the port the kernel gave the UDP socket)
    const srv = net.createServer((c) => this.onTcp(c));
    srv.maxConnections = TCP_MAX_CONNECTIONS;
    try {
      await new Promise<void>((res, rej) => { srv.once('error', rej); srv.listen(realPort, host, () => { srv.off('error', rej); res(); }); });
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
    if (this.acl && !aclAllows(this.acl, rinfo.address)) { this.resolver.counters.refusedAcl++; return; }
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
    try { r = this.resolver.answer(msg, false); } catch (err) { this.log.error('dns query handling failed', { error: err as Error }); return; }
    if (r === null) return;
    if (Buffer.isBuffer(r)) { sock.send(r, port, address); return; }
    r.then((b) => { if (b) sock.send(b, port, address); }, (err) => this.log.error('dns query handling failed', { error: err as Error }));
  }

  private onTcp(c: net.Socket): void {
    if (this.acl && !aclAllows(this.acl, c.remoteAddress ?? '')) { this.resolver.counters.refusedAcl++; c.destroy(); return; }
    this.conns.add(c);
    c.setTimeout(TCP_IDLE_MS, () => c.destroy());
    c.on('close', () => this.conns.delete(c));
    c.on('error', () => c.destroy());
    let buf = Buffer.alloc(0);
    c.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = Buffer.from(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        const send = (b: Buffer | null) => {
          if (!b || c.destroyed) return;
          const hdr = Buffer.allocUnsafe(2); hdr.writeUInt16BE(b.length);
          c.write(Buffer.concat([hdr, b]));
        };
        try {
          const r = this.resolver.answer(msg, true);
          if (r === null || Buffer.isBuffer(r)) send(r); else r.then(send, () => c.destroy());
        } catch { c.destroy(); return; }
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.udp) {
      await new Promise<void>((res) => { try { s.close(() => res()); } catch { res(); } }); // never bound: nothing to close
    }
    for (const s of this.tcp) s.close();
    for (const c of this.conns) c.destroy();
    await Promise.all(this.tcp.map((s) => new Promise<void>((res) => (s.listening ? s.once('close', () => res()) : res()))));
    this.udp.length = 0; this.tcp.length = 0; this.endpoints.length = 0;
  }
}
