// Forwarding to upstream resolvers: timeouts, retries with failover in configured order,
// per-upstream health (consecutive failures put an upstream in backoff), a cap on
// concurrent upstream queries, and the spoofing defences of RFC 5452: a random ID, source
// ports from a small set of sockets on random ports that is constantly renewed, sockets
// connected to the upstream so the kernel drops datagrams from anyone else, and answers
// whose ID or question differ are dropped and counted. A truncated UDP answer is retried over TCP.
import { randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { isIPv6 } from 'node:net';
import { dnsAddress } from './options.ts';
import { readName, RCODE_NOERROR, RCODE_NXDOMAIN, TYPE_OPT } from './wire.ts';
import type { EngineErrorCode } from '../errors.ts';

export interface UpstreamHealth {
  address: string;
  up: boolean;
  queries: number;
  errors: number;
  timeouts: number;
  rttMs: number;
  lastError: string | null;
}

type Pending = (err: Error | null, resp?: Buffer) => boolean;
interface PortSock {
  sock: dgram.Socket;
  ready: Promise<void>;
  uses: number;
  pending: Map<number, Pending>;
  retired: boolean;
}
interface Upstream extends UpstreamHealth {
  host: string;
  port: number;
  fails: number;
  downUntil: number;
  socks: PortSock[];
}

const SOCKS_PER_UPSTREAM = 16;
const SOCK_USES = 64;

export class UpstreamError extends Error {
  constructor(
    msg: string,
    readonly code: EngineErrorCode,
    readonly response?: Buffer,
  ) {
    super(msg);
  }
}

export interface PoolOptions {
  timeoutMs: number;
  attempts: number;
  maxInflight: number;
  ednsUdpSize: number;
}

export interface PoolCounters {
  mismatched: number;
  overload: number;
  tcpRetries: number;
  latencyMsSum: number;
  latencyCount: number;
}

const ids = Buffer.alloc(2048);
let idPos = ids.length;
function randomId(): number {
  if (idPos >= ids.length) {
    randomFillSync(ids);
    idPos = 0;
  }
  const v = ids.readUInt16BE(idPos);
  idPos += 2;
  return v;
}

/** A recursion-desired query with an OPT record, for the name as the cache keys it. */
export function buildQuery(
  id: number,
  name: string,
  qtype: number,
  qclass: number,
  udpSize: number,
  dnssecOk: boolean,
): Buffer {
  const labels = name === '' ? [] : name.split('.');
  const nameLen = labels.reduce((n, l) => n + 1 + Buffer.byteLength(l, 'latin1'), 1);
  const b = Buffer.allocUnsafe(12 + nameLen + 4 + 11).fill(0); // pooled: no ArrayBuffer per query
  b.writeUInt16BE(id, 0);
  b[2] = 0x01;
  b.writeUInt16BE(1, 4);
  b.writeUInt16BE(1, 10);
  let p = 12;
  for (const l of labels) {
    b[p] = l.length;
    p += 1 + b.write(l, p + 1, 'latin1');
  }
  b[p++] = 0;
  b.writeUInt16BE(qtype, p);
  b.writeUInt16BE(qclass, p + 2);
  p += 4;
  b.writeUInt16BE(TYPE_OPT, p + 1);
  b.writeUInt16BE(udpSize, p + 3);
  if (dnssecOk) b[p + 7] = 0x80;
  return b;
}

/** Does resp answer exactly this query (ID, QR, question)? */
function matches(resp: Buffer, id: number, name: string, qtype: number, qclass: number): boolean {
  if (resp.length < 12 || resp.readUInt16BE(0) !== id || !(resp[2] & 0x80) || resp.readUInt16BE(4) !== 1)
    return false;
  try {
    const q = readName(resp, 12);
    return (
      q.name === name &&
      q.end + 4 <= resp.length &&
      resp.readUInt16BE(q.end) === qtype &&
      resp.readUInt16BE(q.end + 2) === qclass
    );
  } catch {
    return false;
  }
}

export class UpstreamPool {
  private readonly ups: Upstream[];
  private inflight = 0;
  private readonly waiters: Array<() => void> = [];
  readonly counters: PoolCounters = {
    mismatched: 0,
    overload: 0,
    tcpRetries: 0,
    latencyMsSum: 0,
    latencyCount: 0,
  };

  constructor(
    addrs: string[],
    private readonly opts: PoolOptions,
  ) {
    this.ups = addrs.map((a) => {
      const { host, port } = dnsAddress(a, 53);
      return {
        address: a,
        host,
        port,
        up: true,
        queries: 0,
        errors: 0,
        timeouts: 0,
        rttMs: 0,
        lastError: null,
        fails: 0,
        downUntil: 0,
        socks: [],
      };
    });
  }

  get size(): number {
    return this.ups.length;
  }
  get active(): number {
    return this.inflight;
  }
  health(): UpstreamHealth[] {
    const now = Date.now();
    return this.ups.map(({ address, queries, errors, timeouts, rttMs, lastError, downUntil }) => ({
      address,
      up: downUntil <= now,
      queries,
      errors,
      timeouts,
      rttMs: Math.round(rttMs * 100) / 100,
      lastError,
    }));
  }

  /** Resolves one question; throws UpstreamError when every attempt failed. */
  async resolve(name: string, qtype: number, qclass: number, dnssecOk: boolean): Promise<Buffer> {
    if (this.ups.length === 0)
      throw new UpstreamError('no upstream configured', 'EDGEWAN_ERR_DNS_NO_UPSTREAM');
    await this.acquire();
    try {
      const now = Date.now();
      // failover order: configured order, upstreams in backoff last (still tried if all are down)
      const order = [
        ...this.ups.filter((u) => u.downUntil <= now),
        ...this.ups.filter((u) => u.downUntil > now),
      ];
      let last: UpstreamError | undefined;
      for (let i = 0; i < this.opts.attempts; i++) {
        const up = order[i % order.length];
        try {
          const resp = await this.ask(up, name, qtype, qclass, dnssecOk);
          const rcode = resp[3] & 0x0f;
          if (rcode !== RCODE_NOERROR && rcode !== RCODE_NXDOMAIN) {
            this.markFail(up, `rcode ${rcode}`, false);
            last = new UpstreamError(
              `${up.address} answered rcode ${rcode}`,
              'EDGEWAN_ERR_DNS_UPSTREAM_RCODE',
              resp,
            );
            continue;
          }
          return resp;
        } catch (err) {
          last = err as UpstreamError;
        }
      }
      throw last ?? new UpstreamError('no attempt made', 'EDGEWAN_ERR_DNS_UPSTREAM');
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.inflight < this.opts.maxInflight) {
      this.inflight++;
      return Promise.resolve();
    }
    if (this.waiters.length >= this.opts.maxInflight * 4) {
      this.counters.overload++;
      return Promise.reject(
        new UpstreamError('too many upstream queries waiting', 'EDGEWAN_ERR_DNS_OVERLOAD'),
      );
    }
    return new Promise((res) =>
      this.waiters.push(() => {
        this.inflight++;
        res();
      }),
    );
  }

  private release(): void {
    this.inflight--;
    this.waiters.shift()?.();
  }

  private markFail(up: Upstream, why: string, timeout: boolean): void {
    up.errors++;
    if (timeout) up.timeouts++;
    up.lastError = why;
    up.fails++;
    if (up.fails >= 3) up.downUntil = Date.now() + Math.min(60_000, 1000 * 2 ** (up.fails - 3));
  }

  private markOk(up: Upstream, ms: number): void {
    up.fails = 0;
    up.downUntil = 0;
    up.rttMs = up.rttMs === 0 ? ms : up.rttMs * 0.8 + ms * 0.2;
    this.counters.latencyMsSum += ms;
    this.counters.latencyCount++;
  }

  private async ask(
    up: Upstream,
    name: string,
    qtype: number,
    qclass: number,
    dnssecOk: boolean,
  ): Promise<Buffer> {
    up.queries++;
    const t0 = performance.now();
    const id = randomId();
    const query = buildQuery(id, name, qtype, qclass, this.opts.ednsUdpSize, dnssecOk);
    try {
      let resp = await this.udp(up, query, id, name, qtype, qclass);
      if (resp[2] & 0x02) {
        this.counters.tcpRetries++;
        resp = await this.tcp(up, query, id, name, qtype, qclass);
      }
      this.markOk(up, performance.now() - t0);
      return resp;
    } catch (err) {
      const e = err as UpstreamError;
      this.markFail(up, e.message, e.code === 'EDGEWAN_ERR_DNS_UPSTREAM_TIMEOUT');
      throw e;
    }
  }

  /**
   * A socket for this upstream: up to SOCKS_PER_UPSTREAM connected sockets, each on its own
   * kernel-chosen random port and retired after SOCK_USES queries, so source ports keep
   * changing (RFC 5452 §9.2) without paying a socket per query (that capped misses at ~2.6k/s).
   */
  private sockFor(up: Upstream): PortSock {
    if (up.socks.length < SOCKS_PER_UPSTREAM) {
      const sock = dgram.createSocket(isIPv6(up.host) ? 'udp6' : 'udp4');
      const ps: PortSock = {
        sock,
        uses: 0,
        pending: new Map(),
        retired: false,
        ready: new Promise((res) => sock.connect(up.port, up.host, () => res())),
      };
      sock.on('error', (err) => {
        for (const p of ps.pending.values())
          p(new UpstreamError(`${up.address}: ${err.message}`, 'EDGEWAN_ERR_DNS_UPSTREAM_IO'));
        this.retire(up, ps);
      });
      sock.on('message', (msg) => {
        const id = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
        const p = ps.pending.get(id);
        if (p && p(null, msg)) return;
        this.counters.mismatched++; // stray, late or spoofed: the real answer may still come
      });
      up.socks.push(ps);
      return ps;
    }
    return up.socks[Math.floor(Math.random() * up.socks.length)];
  }

  private retire(up: Upstream, ps: PortSock): void {
    if (!ps.retired) {
      ps.retired = true;
      up.socks.splice(up.socks.indexOf(ps), 1);
    }
    if (ps.pending.size === 0) {
      try {
        ps.sock.close();
      } catch {
        /* already closed */
      }
    }
  }

  private udp(
    up: Upstream,
    query: Buffer,
    id0: number,
    name: string,
    qtype: number,
    qclass: number,
  ): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const ps = this.sockFor(up);
      let id = id0;
      while (ps.pending.has(id)) {
        id = randomId();
      }
      query.writeUInt16BE(id, 0);
      const finish = (err: Error | null, resp?: Buffer): boolean => {
        if (!err && !matches(resp!, id, name, qtype, qclass)) return false;
        clearTimeout(timer);
        ps.pending.delete(id);
        if (ps.retired && ps.pending.size === 0) this.retire(up, ps);
        if (err) reject(err);
        else resolve(resp!);
        return true;
      };
      const timer = setTimeout(
        () =>
          finish(
            new UpstreamError(
              `${up.address}: no answer within ${this.opts.timeoutMs} ms`,
              'EDGEWAN_ERR_DNS_UPSTREAM_TIMEOUT',
            ),
          ),
        this.opts.timeoutMs,
      );
      ps.pending.set(id, finish);
      if (++ps.uses >= SOCK_USES) this.retire(up, ps);
      void ps.ready.then(() => {
        if (ps.pending.get(id) === finish) ps.sock.send(query);
      });
    });
  }

  /** Closes every upstream socket (component stop). */
  close(): void {
    for (const up of this.ups)
      for (const ps of [...up.socks]) {
        ps.pending.clear();
        this.retire(up, ps);
      }
  }

  private tcp(
    up: Upstream,
    query: Buffer,
    id: number,
    name: string,
    qtype: number,
    qclass: number,
  ): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: up.host, port: up.port });
      let buf = Buffer.alloc(0);
      let done = false;
      const finish = (err: Error | null, resp?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        s.destroy();
        if (err) reject(err);
        else resolve(resp!);
      };
      const timer = setTimeout(
        () =>
          finish(
            new UpstreamError(
              `${up.address}: no TCP answer within ${this.opts.timeoutMs} ms`,
              'EDGEWAN_ERR_DNS_UPSTREAM_TIMEOUT',
            ),
          ),
        this.opts.timeoutMs,
      );
      s.on('error', (err) =>
        finish(new UpstreamError(`${up.address} (tcp): ${err.message}`, 'EDGEWAN_ERR_DNS_UPSTREAM_IO')),
      );
      s.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        s.write(Buffer.concat([len, query]));
      });
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length > 65537)
          return finish(
            new UpstreamError(`${up.address} (tcp): oversized answer`, 'EDGEWAN_ERR_DNS_UPSTREAM_IO'),
          );
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        if (matches(msg, id, name, qtype, qclass)) finish(null, Buffer.from(msg));
        else {
          this.counters.mismatched++;
          finish(
            new UpstreamError(
              `${up.address} (tcp): answer does not match the question`,
              'EDGEWAN_ERR_DNS_UPSTREAM_MISMATCH',
            ),
          );
        }
      });
      s.on('end', () =>
        finish(
          new UpstreamError(`${up.address} (tcp): closed before answering`, 'EDGEWAN_ERR_DNS_UPSTREAM_IO'),
        ),
      );
    });
  }
}
