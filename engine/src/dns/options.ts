// The DNS component's settings with every default filled in. The config loader has already
// validated the `dns` section against engine/schema/config.schema.json; this module turns it
// (or a partial object, in tests) into the plain values the server, cache and upstream pool
// use, so those never look at the raw config.
import { readFileSync } from 'node:fs';
import { splitHostPort, type HostPort } from '../net/hostport.ts';

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
  /** threads answering UDP (main thread included): "auto" or 1..16, resolved by workers.ts */
  workers: number | 'auto';
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
  workers: 'auto',
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

/** A DNS listen or upstream address: host:port, [v6]:port, or a bare host or IPv6 address with defaultPort. */
export function dnsAddress(s: string, defaultPort: number): HostPort {
  const hp = splitHostPort(s, defaultPort);
  if (!hp)
    throw Object.assign(new Error(`bad address "${s}": expected host:port or [v6]:port, port 0-65535`), {
      code: 'EDGEWAN_ERR_DNS_ADDRESS',
    });
  return hp;
}

/** systemd-resolved's stub addresses: never an upstream (it may be forwarding to us). */
const RESOLVED_STUBS = new Set(['127.0.0.53', '127.0.0.54']);
/** Where systemd-resolved lists the real upstream servers when resolv.conf holds its stub. */
export const RESOLVED_UPSTREAM_FILE = '/run/systemd/resolve/resolv.conf';
/** OpenWRT: resolv.conf names dnsmasq (127.0.0.1); netifd writes the WAN's servers here. */
export const OPENWRT_UPSTREAM_FILES = ['/tmp/resolv.conf.d/resolv.conf.auto', '/tmp/resolv.conf.auto'];

function nameservers(file: string): string[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) out.push(m[1].replace(/%.*$/, ''));
  }
  return out;
}

/**
 * Nameservers from resolv.conf, used when no upstream is configured. Our own listen hosts
 * and systemd-resolved's stub are left out (either may be forwarding to us: a loop); when
 * nothing is left, resolved's own upstream list is read, then OpenWRT's resolv.conf.auto.
 */
export function systemUpstreams(
  listen: string[],
  file = '/etc/resolv.conf',
  resolvedFile = RESOLVED_UPSTREAM_FILE,
  openwrtFiles = OPENWRT_UPSTREAM_FILES,
): string[] {
  const own = new Set(listen.map((l) => dnsAddress(l, 53).host));
  const usable = (hosts: string[]) => hosts.filter((h) => !RESOLVED_STUBS.has(h) && !own.has(h));
  let hosts = usable(nameservers(file));
  if (hosts.length === 0) hosts = usable(nameservers(resolvedFile));
  for (const f of openwrtFiles) if (hosts.length === 0) hosts = usable(nameservers(f));
  return hosts.map((h) => (h.includes(':') ? `[${h}]:53` : `${h}:53`));
}
