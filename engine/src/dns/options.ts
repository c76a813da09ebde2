// The DNS component's settings with every default filled in. The config loader has already
// validated the `dns` section against engine/schema/config.schema.json; this module turns it
// (or a partial object, in tests) into the plain values the server, cache and upstream pool
// use, so those never look at the raw config.
import { readFileSync } from 'node:fs';

export type LocalRecordType = 'A' | 'AAAA' | 'CNAME' | 'TXT' | 'PTR' | 'MX' | 'NXDOMAIN';

export interface LocalRecord {
  name: string;
  type: LocalRecordType;
  value?: string;
  ttlS?: number;
  /** also answer for every name below `name` (dnsmasq's address=/domain/ip) */
  subdomains?: boolean;
}

export interface DnsOptions {
  listen: string[];
  upstreams: string[];
  records: LocalRecord[];
  hostsFile: string | null;
  /** CIDRs allowed to query; empty = everyone who can reach the listen address */
  allowFrom: string[];
  serveStale: boolean;
  staleAnswerTtlS: number;
  staleMaxS: number;
  negativeTtlS: number;
  negativeMaxTtlS: number;
  minTtlS: number;
  maxTtlS: number;
  prefetch: boolean;
  upstreamTimeoutMs: number;
  upstreamAttempts: number;
  maxInflight: number;
  ednsUdpSize: number;
  snapshotIntervalS: number;
  /** where the snapshot lives; null = no warm restart */
  snapshotFile: string | null;
}

export const DNS_DEFAULTS: Omit<DnsOptions, 'snapshotFile'> = {
  listen: ['127.0.0.1:5353'],
  upstreams: [],
  records: [],
  hostsFile: null,
  allowFrom: [],
  serveStale: true,
  staleAnswerTtlS: 30,
  staleMaxS: 86400,
  negativeTtlS: 60,
  negativeMaxTtlS: 10800,
  minTtlS: 0,
  maxTtlS: 86400,
  prefetch: false,
  upstreamTimeoutMs: 1500,
  upstreamAttempts: 3,
  maxInflight: 256,
  ednsUdpSize: 1232,
  snapshotIntervalS: 300,
};

/** The config's `dns` section as given (config.dns, or a partial object in tests). */
export type DnsSection = {
  readonly [K in keyof DnsOptions]?: DnsOptions[K] extends Array<infer T> ? readonly T[] : DnsOptions[K];
} & { readonly enabled?: boolean };

export function dnsOptions(section: DnsSection, snapshotFile: string | null): DnsOptions {
  const out = { ...DNS_DEFAULTS, snapshotFile } as DnsOptions & Record<string, unknown>;
  for (const [k, v] of Object.entries(section as Record<string, unknown>)) {
    if (k in DNS_DEFAULTS && v !== undefined) out[k] = Array.isArray(v) ? [...v] : v;
  }
  return out;
}

/** Splits "host:port" / "[v6]:port"; a bare host gets defaultPort. */
export function splitHostPort(s: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) {
    // a bare IPv6 address without brackets
    if (s.includes(':')) return { host: s, port: defaultPort };
    throw Object.assign(new Error(`bad address "${s}": expected host:port or [v6]:port`), { code: 'EDGEWAN_ERR_DNS_ADDRESS' });
  }
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!(port >= 0 && port <= 65535)) throw Object.assign(new Error(`bad port in "${s}"`), { code: 'EDGEWAN_ERR_DNS_ADDRESS' });
  return { host: m[1], port };
}

/**
 * Nameservers from resolv.conf, used when no upstream is configured. Our own listen
 * addresses are left out: a system resolver pointing at us must not become our upstream.
 */
export function systemUpstreams(listen: string[], file = '/etc/resolv.conf'): string[] {
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { return []; }
  const own = new Set(listen.map((l) => { const { host, port } = splitHostPort(l, 53); return `${host}#${port}`; }));
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const host = m[1].replace(/%.*$/, '');
    if (own.has(`${host}#53`)) continue;
    out.push(host.includes(':') ? `[${host}]:53` : `${host}:53`);
  }
  return out;
}
