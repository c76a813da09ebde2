// IPv4/IPv6 networks as (family, first address, prefix) with BigInt arithmetic: parse with a
// reason on failure, containment and overlap for the config checks, canonical text for nft
// and for comparing conntrack's addresses with a socket's (which may be "::ffff:a.b.c.d").
import net from 'node:net';

export interface Cidr {
  readonly family: 4 | 6;
  readonly base: bigint;
  readonly prefix: number;
  readonly text: string;
}

const bitsOf = (f: 4 | 6) => (f === 4 ? 32 : 128);

/** An address as a number; null when it is not an IP literal. ::ffff:a.b.c.d counts as IPv4. */
export function addressValue(addr: string): { family: 4 | 6; value: bigint } | null {
  const a = addr.replace(/^\[(.*)\]$/, '$1');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) return addressValue(mapped[1]);
  if (net.isIPv4(a))
    return { family: 4, value: a.split('.').reduce((v, o) => (v << 8n) | BigInt(Number(o)), 0n) };
  if (!net.isIPv6(a)) return null;
  let s = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s); // trailing dotted quad
  if (v4) {
    const n = addressValue(v4[1])!.value;
    s = s.slice(0, -v4[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, null];
  const h = head ? head.split(':') : [];
  const t = tail === null ? [] : tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return { family: 6, value: groups.reduce((v, g) => (v << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

/** Canonical key of an address (family and value), for equality across spellings. */
export function addressKey(addr: string): string | null {
  const v = addressValue(addr);
  return v ? `${v.family}:${v.value.toString(16)}` : null;
}

export function formatAddress(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  const g = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  // the longest run of zero groups (2 or more) becomes "::"
  let best = -1;
  let len = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > len && j - i >= 2) {
      best = i;
      len = j - i;
    }
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + len).join(':')}`;
}

/** Parse "a.b.c.d/n", "x::/n" or one address; a string reason when it does not parse. */
export function parseCidr(text: string): Cidr | string {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text);
  if (!m) return 'not an address or address/prefix';
  const v = addressValue(m[1]);
  if (!v || (m[1].toLowerCase().startsWith('::ffff:') && v.family === 4))
    return `"${m[1]}" is not an IPv4 or IPv6 address`;
  const max = bitsOf(v.family);
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max) return `prefix /${prefix} is longer than ${max} bits`;
  const hostMask = (1n << BigInt(max - prefix)) - 1n;
  if (v.value & hostMask) {
    return `host bits are set (the network is ${formatAddress(v.family, v.value & ~hostMask)}/${prefix})`;
  }
  return { family: v.family, base: v.value, prefix, text: `${formatAddress(v.family, v.value)}/${prefix}` };
}

export function lastOf(c: Cidr): bigint {
  return c.base + (1n << BigInt(bitsOf(c.family) - c.prefix)) - 1n;
}

export function cidrContains(c: Cidr, family: 4 | 6, value: bigint): boolean {
  return c.family === family && value >= c.base && value <= lastOf(c);
}

/** Two networks share an address (then one contains the other). */
export function cidrOverlap(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base <= lastOf(b) && b.base <= lastOf(a);
}

/** a contains every address of b. */
export function cidrCovers(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base <= b.base && lastOf(b) <= lastOf(a);
}
