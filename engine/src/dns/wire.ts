// DNS wire format on the hot path (RFC 1035 §4, RFC 6891 for EDNS0). dns-packet decodes whole
// messages into objects, which costs too much per query; the server only needs the header,
// the question (as a cache key), the client's OPT record and the offsets of every TTL so
// cached answers can be replayed from stored bytes with the ID and TTLs patched in place.
// Every read is bounds-checked; compression pointers are followed with a jump limit so a
// pointer loop is a MalformedError, never a hang.

export class MalformedError extends Error {
  readonly code = 'EDGEWAN_ERR_DNS_MALFORMED';
  constructor(
    what: string,
    readonly offset: number,
  ) {
    super(`malformed DNS message: ${what} at byte ${offset}`);
  }
}

export const TYPE_A = 1;
export const TYPE_NS = 2;
export const TYPE_CNAME = 5;
export const TYPE_SOA = 6;
export const TYPE_PTR = 12;
export const TYPE_MX = 15;
export const TYPE_TXT = 16;
export const TYPE_AAAA = 28;
export const TYPE_OPT = 41;
export const CLASS_IN = 1;
export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;

export interface Query {
  id: number;
  flags: number;
  /** lower-case presentation name without the trailing dot ("" for the root) */
  name: string;
  /** name + QTYPE + QCLASS bytes (latin1): the cache key, "!" appended when DO is set */
  key: string;
  qtype: number;
  qclass: number;
  /** byte offset just past the question (start of the answer section) */
  questionEnd: number;
  /** the question section used no compression pointer (its bytes can be copied verbatim) */
  plainQuestion: boolean;
  /** client's EDNS0 UDP payload size, or 0 when the query carried no OPT record */
  ednsSize: number;
  /** client set the DNSSEC OK bit */
  dnssecOk: boolean;
}

const MAX_JUMPS = 16;
const scratch = Buffer.allocUnsafe(260);
// Buffer#latin1Slice skips toString()'s argument checks (a measurable share of a cache hit);
// it has existed on every Node Buffer since 0.x but is not in the typings.
const latin1 = (Buffer.prototype as unknown as { latin1Slice(this: Buffer, s: number, e: number): string })
  .latin1Slice;
const u16 = (b: Buffer, o: number): number => (b[o] << 8) | b[o + 1];

/** Reads a (possibly compressed) name at off into `scratch`, lower-cased and dotted. */
function readNameInto(buf: Buffer, off: number): { len: number; end: number; compressed: boolean } {
  let pos = off;
  let end = -1;
  let jumps = 0;
  let len = 0;
  for (;;) {
    if (pos >= buf.length) throw new MalformedError('name runs past the end', pos);
    const b = buf[pos];
    if (b === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    if ((b & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new MalformedError('truncated compression pointer', pos);
      if (++jumps > MAX_JUMPS) throw new MalformedError('compression pointer loop', pos);
      if (end < 0) end = pos + 2;
      const target = ((b & 0x3f) << 8) | buf[pos + 1];
      if (target >= pos) throw new MalformedError('forward compression pointer', pos);
      pos = target;
      continue;
    }
    if (b & 0xc0) throw new MalformedError('reserved label type', pos);
    if (pos + 1 + b > buf.length) throw new MalformedError('label runs past the end', pos);
    if (len > 0) scratch[len++] = 0x2e;
    if (len + b > 254) throw new MalformedError('name longer than 255 octets', pos);
    // lower-case ASCII only: DNS case-insensitivity is ASCII (RFC 4343)
    for (let i = 0; i < b; i++) {
      const c = buf[pos + 1 + i];
      scratch[len++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    pos += 1 + b;
  }
  return { len, end, compressed: jumps > 0 };
}

/** Reads a (possibly compressed) name at off; returns the lower-cased name and the offset after it. */
export function readName(buf: Buffer, off: number): { name: string; end: number; compressed: boolean } {
  const r = readNameInto(buf, off);
  return { name: latin1.call(scratch, 0, r.len), end: r.end, compressed: r.compressed };
}

/** Offset just past the name at off, without following pointers (a pointer ends a name). */
export function skipName(buf: Buffer, off: number): number {
  let pos = off;
  for (;;) {
    if (pos >= buf.length) throw new MalformedError('name runs past the end', pos);
    const b = buf[pos];
    if (b === 0) return pos + 1;
    if ((b & 0xc0) === 0xc0) {
      if (pos + 2 > buf.length) throw new MalformedError('truncated compression pointer', pos);
      return pos + 2;
    }
    if (b & 0xc0) throw new MalformedError('reserved label type', pos);
    pos += 1 + b;
  }
}

/** Parses a query: header, exactly one question, and an OPT record if present. */
export function parseQuery(buf: Buffer): Query {
  if (buf.length < 12) throw new MalformedError('header shorter than 12 bytes', buf.length);
  const qd = u16(buf, 4);
  if (qd !== 1) throw new MalformedError(`QDCOUNT ${qd} (must be 1)`, 4);
  const q = readNameInto(buf, 12);
  if (q.end + 4 > buf.length) throw new MalformedError('question runs past the end', q.end);
  // the cache key is the name plus the raw QTYPE/QCLASS bytes: one flat string per query
  const e = q.end;
  scratch[q.len] = buf[e];
  scratch[q.len + 1] = buf[e + 1];
  scratch[q.len + 2] = buf[e + 2];
  scratch[q.len + 3] = buf[e + 3];
  const key: string = latin1.call(scratch, 0, q.len + 4);
  const query: Query = {
    id: u16(buf, 0),
    flags: u16(buf, 2),
    name: key.slice(0, q.len),
    key,
    qtype: u16(buf, e),
    qclass: u16(buf, e + 2),
    questionEnd: e + 4,
    plainQuestion: !q.compressed,
    ednsSize: 0,
    dnssecOk: false,
  };
  const an = u16(buf, 6);
  const ns = u16(buf, 8);
  const ar = u16(buf, 10);
  if (ar === 0) return query;
  let pos = query.questionEnd;
  for (let i = 0; i < an + ns + ar; i++) {
    pos = skipName(buf, pos);
    if (pos + 10 > buf.length) throw new MalformedError('record header runs past the end', pos);
    const type = buf.readUInt16BE(pos);
    const rdlen = buf.readUInt16BE(pos + 8);
    if (type === TYPE_OPT && i >= an + ns) {
      query.ednsSize = Math.max(512, buf.readUInt16BE(pos + 2));
      query.dnssecOk = (buf[pos + 6] & 0x80) !== 0;
      if (query.dnssecOk) query.key += '!'; // DNSSEC answers carry RRSIGs: cache them apart
    }
    pos += 10 + rdlen;
    if (pos > buf.length) throw new MalformedError('record data runs past the end', pos);
  }
  return query;
}

/** Where the TTLs of a response live, and what an RFC 2308 negative answer's SOA says. */
export interface ResponseLayout {
  rcode: number;
  answers: number;
  questionEnd: number;
  /** byte offsets of the TTL field of every record except OPT */
  ttlOffsets: number[];
  /** offset and length of the OPT record when it is the last record (so it can be cut off) */
  optStart: number;
  hasOpt: boolean;
  /** min(SOA TTL, SOA MINIMUM) from the authority section, or -1 without an SOA */
  soaNegTtl: number;
}

export function layoutResponse(buf: Buffer): ResponseLayout {
  if (buf.length < 12) throw new MalformedError('header shorter than 12 bytes', buf.length);
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  let pos = 12;
  for (let i = 0; i < qd; i++) {
    pos = skipName(buf, pos) + 4;
    if (pos > buf.length) throw new MalformedError('question runs past the end', pos);
  }
  const out: ResponseLayout = {
    rcode: buf[3] & 0x0f,
    answers: an,
    questionEnd: pos,
    ttlOffsets: [],
    optStart: -1,
    hasOpt: false,
    soaNegTtl: -1,
  };
  const total = an + ns + ar;
  for (let i = 0; i < total; i++) {
    const start = pos;
    pos = skipName(buf, pos);
    if (pos + 10 > buf.length) throw new MalformedError('record header runs past the end', pos);
    const type = buf.readUInt16BE(pos);
    const rdlen = buf.readUInt16BE(pos + 8);
    const rdEnd = pos + 10 + rdlen;
    if (rdEnd > buf.length) throw new MalformedError('record data runs past the end', rdEnd);
    if (type === TYPE_OPT) {
      out.hasOpt = true;
      if (i === total - 1 && rdEnd === buf.length) out.optStart = start;
    } else {
      out.ttlOffsets.push(pos + 4);
      if (type === TYPE_SOA && i >= an && i < an + ns && rdlen >= 22) {
        const ttl = buf.readUInt32BE(pos + 4);
        const min = buf.readUInt32BE(rdEnd - 4);
        out.soaNegTtl = Math.min(ttl, min);
      }
    }
    pos = rdEnd;
  }
  return out;
}

/** A minimal OPT record (RFC 6891 §6.1.2) advertising our UDP payload size. */
export function optRecord(udpSize: number, dnssecOk: boolean): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt16BE(TYPE_OPT, 1);
  b.writeUInt16BE(udpSize, 3);
  if (dnssecOk) b[7] = 0x80;
  return b;
}

/** Header + the client's question (+ OPT), with an rcode: FORMERR, SERVFAIL, REFUSED, TC replies. */
export function shortReply(
  query: Buffer,
  q: Query,
  rcode: number,
  opts: { tc?: boolean; ra?: boolean; udpSize?: number } = {},
): Buffer {
  const opt = q.ednsSize > 0 ? optRecord(opts.udpSize ?? 1232, q.dnssecOk) : undefined;
  const qlen = q.plainQuestion ? q.questionEnd - 12 : 0;
  const out = Buffer.allocUnsafe(12 + qlen + (opt ? opt.length : 0));
  out.writeUInt16BE(q.id, 0);
  // QR=1, opcode copied, RD copied, RA as given, TC as given
  out[2] = 0x80 | ((q.flags >> 8) & 0x79) | (opts.tc ? 0x02 : 0);
  out[3] = (opts.ra === false ? 0 : 0x80) | (rcode & 0x0f);
  out.writeUInt16BE(qlen ? 1 : 0, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(opt ? 1 : 0, 10);
  if (qlen) query.copy(out, 12, 12, q.questionEnd);
  if (opt) opt.copy(out, 12 + qlen);
  return out;
}
