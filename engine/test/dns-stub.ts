// Test helpers for the DNS component: a stub upstream resolver on loopback (UDP + TCP, port 0)
// with a tiny synthetic zone, and a client that sends one query and decodes the answer.
// Zone of the stub:
//   <anything>.example.test  A    11.x.y.z derived from the name, TTL `ttl` (default 300)
//   nx*.example.test         NXDOMAIN with an SOA (TTL 300, MINIMUM negMin)
//   nodata.example.test AAAA NOERROR, no answers, SOA
//   big.example.test    TXT  ~3 KB of TXT (truncated over UDP, complete over TCP)
//   spoof.example.test  A    first sends a datagram with a wrong ID, then the real answer
// `down = true` makes it drop every query (timeouts); `servfail = true` answers SERVFAIL.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { createLogger } from '../src/log/logger.ts';
import type { ComponentContext } from '../src/supervisor/component.ts';

export interface Stub {
  port: number;
  queries: Map<string, number>;
  total: number;
  down: boolean;
  servfail: boolean;
  ttl: number;
  negMin: number;
  close(): Promise<void>;
}

function ipFor(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `11.${(h >> 16) & 255}.${(h >> 8) & 255}.${h & 255}`; // public space: dnsmasq's rebind protection passes it
}

function answerFor(stub: Stub, q: dnsPacket.Packet): dnsPacket.Packet {
  const question = q.questions![0];
  const name = question.name.toLowerCase();
  const soa = {
    name: 'example.test',
    type: 'SOA',
    class: 'IN',
    ttl: 300,
    data: {
      mname: 'ns.example.test',
      rname: 'host.example.test',
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: stub.negMin,
    },
  };
  const base = {
    type: 'response' as const,
    id: q.id,
    flags: dnsPacket.RECURSION_AVAILABLE | ((q.flags ?? 0) & 1),
    questions: q.questions,
  };
  if (stub.servfail) return { ...base, flags: base.flags | 2, answers: [] };
  if (name.startsWith('nx'))
    return { ...base, flags: base.flags | 3, answers: [], authorities: [soa] } as dnsPacket.Packet;
  if (name === 'nodata.example.test' && question.type === 'AAAA')
    return { ...base, answers: [], authorities: [soa] } as dnsPacket.Packet;
  if (name === 'big.example.test') {
    const chunks = Array.from({ length: 12 }, (_, i) => `${i}`.padEnd(250, 'x'));
    return {
      ...base,
      answers: [{ name: question.name, type: 'TXT', class: 'IN', ttl: stub.ttl, data: chunks }],
    } as dnsPacket.Packet;
  }
  if (question.type !== 'A') return { ...base, answers: [], authorities: [soa] } as dnsPacket.Packet;
  return {
    ...base,
    answers: [{ name: question.name, type: 'A', class: 'IN', ttl: stub.ttl, data: ipFor(name) }],
  };
}

/**
 * *.flood.example.test answered straight from the query bytes (no decode/encode) so a flood of
 * 10^5 names is limited by the server under test, not by the stub: nx* names get NXDOMAIN
 * without SOA, others one A record (compression pointer to the question name).
 */
function floodAnswer(msg: Buffer, stub: Stub): Buffer | null {
  if (msg.length < 17 || msg.readUInt16BE(4) !== 1) return null;
  let p = 12;
  while (p < msg.length && msg[p] !== 0) p += msg[p] + 1;
  const qEnd = p + 5;
  if (qEnd > msg.length || !msg.toString('latin1', 12, p).includes('\x05flood')) return null;
  stub.total++;
  const nx = msg[13] === 0x6e && msg[14] === 0x78; // first label starts with "nx"
  const out = Buffer.alloc(qEnd + (nx ? 0 : 16));
  msg.copy(out, 0, 0, qEnd);
  out[2] = 0x80 | (msg[2] & 0x01);
  out[3] = 0x80 | (nx ? 3 : 0);
  out.writeUInt16BE(nx ? 0 : 1, 6);
  out.writeUInt32BE(0, 8);
  if (!nx) {
    out.writeUInt16BE(0xc00c, qEnd);
    out.writeUInt16BE(1, qEnd + 2);
    out.writeUInt16BE(1, qEnd + 4);
    out.writeUInt32BE(stub.ttl, qEnd + 6);
    out.writeUInt16BE(4, qEnd + 10);
    out.writeUInt32BE(0x0a000000 | (stub.total & 0xffffff), qEnd + 12);
  }
  return out;
}

/**
 * A UDP port of our own with TCP listening on the same number. The kernel picks the UDP port;
 * that number can be taken on the TCP side (another test's loopback connection uses it), and an
 * unhandled listen error inside a test hook hangs node:test — so try again with another port.
 */
async function udpAndTcp(
  onConn: (c: net.Socket) => void,
): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((res) => udp.bind(0, '127.0.0.1', () => res()));
    const port = udp.address().port;
    const tcp = net.createServer(onConn);
    const ok = await new Promise<boolean>((res, rej) => {
      tcp.once('error', (err) => (attempt >= 20 ? rej(err) : res(false)));
      tcp.listen(port, '127.0.0.1', () => res(true));
    });
    if (ok) return { udp, tcp, port };
    await new Promise<void>((res) => udp.close(() => res()));
  }
}

export async function startStub(): Promise<Stub> {
  const conns = new Set<net.Socket>();
  let onTcp: (c: net.Socket) => void = () => {};
  const { udp, tcp, port } = await udpAndTcp((c) => onTcp(c));
  const stub: Stub = {
    port,
    queries: new Map(),
    total: 0,
    down: false,
    servfail: false,
    ttl: 300,
    negMin: 60,
    close: async () => {
      await new Promise<void>((res) => udp.close(() => res()));
      for (const c of conns) c.destroy();
      await new Promise<void>((res) => tcp.close(() => res()));
    },
  };
  const handle = (msg: Buffer, tcpMode: boolean): Buffer[] | null => {
    const fast = floodAnswer(msg, stub);
    if (fast) return stub.down ? null : [fast];
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return null;
    }
    const name = q.questions?.[0]?.name.toLowerCase() ?? '';
    stub.total++;
    stub.queries.set(name, (stub.queries.get(name) ?? 0) + 1);
    if (stub.down) return null;
    const a = answerFor(stub, q);
    let out = dnsPacket.encode(a);
    if (!tcpMode && out.length > 1232) {
      out = dnsPacket.encode({ ...a, flags: (a.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
    }
    if (name === 'spoof.example.test' && !tcpMode) {
      const fake = dnsPacket.encode({
        ...a,
        id: (q.id! + 1) & 0xffff,
        answers: [{ name, type: 'A', class: 'IN', ttl: 300, data: '6.6.6.6' }],
      });
      return [fake, out];
    }
    return [out];
  };
  udp.on('message', (msg, rinfo) => {
    for (const b of handle(msg, false) ?? []) udp.send(b, rinfo.port, rinfo.address);
  });
  onTcp = (c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
    c.on('error', () => c.destroy());
    let buf = Buffer.alloc(0);
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        for (const b of handle(msg, true) ?? []) {
          const l = Buffer.alloc(2);
          l.writeUInt16BE(b.length);
          c.write(Buffer.concat([l, b]));
        }
      }
    });
  };
  return stub;
}

/** n copies of a query in RFC 1035 §4.2.2 TCP framing (2-byte length each), for pipelining. */
export function tcpFramed(q: Buffer, n = 1): Buffer {
  const one = Buffer.alloc(2 + q.length);
  one.writeUInt16BE(q.length);
  q.copy(one, 2);
  return Buffer.concat(Array.from({ length: n }, () => one));
}

/** One TCP query on a fresh connection; resolves to the raw answer, or null on error or after timeoutMs. */
export function tcpAskOnce(port: number, q: Buffer, timeoutMs = 3000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => {
      s.destroy();
      resolve(null);
    }, timeoutMs);
    s.on('connect', () => s.write(tcpFramed(q)));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(t);
        s.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    s.on('error', () => {
      clearTimeout(t);
      resolve(null);
    });
  });
}

/** One UDP query (optionally raw bytes); resolves to the raw answer or null after timeoutMs. */
export function udpAsk(
  port: number,
  query: Buffer,
  timeoutMs = 2000,
  host = '127.0.0.1',
): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(null);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(query, port, host);
  });
}

export function query(
  name: string,
  type: dnsPacket.RecordType = 'A',
  opts: { id?: number; edns?: number } = {},
): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: 'IN' }],
    additionals: opts.edns
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: opts.edns,
            flags: 0,
            options: [],
          } as unknown as dnsPacket.Answer,
        ]
      : [],
  });
}

/** A decoded answer, loosely typed for assertions. */
export interface Rec {
  name: string;
  type: string;
  ttl: number;
  data: unknown;
}
export interface Reply {
  id: number;
  flags: number;
  rcode: string;
  questions: Array<{ name: string; type: string }>;
  answers: Rec[];
  authorities: Rec[];
  additionals: Rec[];
  raw: Buffer;
}

export function decode(raw: Buffer): Reply {
  return Object.assign(dnsPacket.decode(raw) as unknown as Reply, { raw });
}

export async function ask(
  port: number,
  name: string,
  type: dnsPacket.RecordType = 'A',
  opts: { id?: number; edns?: number } = {},
): Promise<Reply> {
  const raw = await udpAsk(port, query(name, type, opts));
  if (!raw) throw new Error(`no answer for ${name} ${type} on port ${port}`);
  return decode(raw);
}

/** A ComponentContext for in-process tests: records log lines and health reports. */
export function fakeContext(budget = 4 * 1024 * 1024) {
  const lines: Array<Record<string, unknown>> = [];
  const reports: string[] = [];
  const ac = new AbortController();
  const log = createLogger({
    level: 'debug',
    write: (l) => {
      lines.push(JSON.parse(l));
    },
  });
  const ctx: ComponentContext = {
    log,
    signal: ac.signal,
    budgetBytes: () => budget,
    budgets: () => ({ dns: budget }) as unknown as ReturnType<ComponentContext['budgets']>,
    unconfigured: (r) => reports.push(`unconfigured: ${r}`),
    degraded: (r) => reports.push(`degraded: ${r}`),
    healthy: () => reports.push('healthy'),
    fail: (e) => reports.push(`fail: ${e.message}`),
  };
  return { ctx, lines, reports };
}
