// Checks the schema cannot express, run by loadConfig() for `check-config`, `run` (before any
// component starts) and a SIGHUP reload alike, so what would fail at start fails here first,
// with exit 78 and the JSON pointer: cross-field rules (TTL and backoff bounds, role against
// tunnel.listen/connect, two listeners on one address), and what the config points at (the
// tunnel's key files and pin, dns.hostsFile, local record values, allowFrom networks). The
// file and value checks are the components' own functions (tunnel/auth.ts authMaterial,
// dns/records.ts recordProblem and cidrProblem), not copies of them.
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import type { ConfigProblem } from './errors.ts';
import type { ResolvedConfig } from './types.ts';
import { authMaterial, AuthProblem } from '../tunnel/auth.ts';
import { cidrProblem, recordProblem } from '../dns/records.ts';
import { splitHostPort } from '../net/hostport.ts';

/** Where a core listens when tunnel.listen is null (tunnel/component.ts). */
export const DEFAULT_TUNNEL_LISTEN = '[::]:9618';

export interface RuleOptions {
  /** Read the files the config names (keys, PSK, hostsFile). Default true; print-config and healthcheck skip it. */
  checkFiles?: boolean;
}

export function checkRules(c: ResolvedConfig, opts: RuleOptions = {}): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  crossField(c, out);
  listenConflicts(c, out);
  dnsValues(c, out);
  if (opts.checkFiles !== false) files(c, out);
  return out;
}

function crossField(c: ResolvedConfig, out: ConfigProblem[]): void {
  const d = c.dns;
  if (d.minTtlS > d.maxTtlS) {
    out.push({
      code: 'EDGEWAN_ERR_CONFIG_RANGE',
      pointer: '/dns/minTtlS',
      value: d.minTtlS,
      message: `dns.minTtlS ${d.minTtlS} is above dns.maxTtlS ${d.maxTtlS}`,
      allowed: `at most dns.maxTtlS (${d.maxTtlS})`,
    });
  }
  const b = c.supervisor.backoffMs;
  if (b.initial > b.max) {
    out.push({
      code: 'EDGEWAN_ERR_CONFIG_RANGE',
      pointer: '/supervisor/backoffMs/initial',
      value: b.initial,
      message: `supervisor.backoffMs.initial ${b.initial} is above supervisor.backoffMs.max ${b.max}`,
      allowed: `at most supervisor.backoffMs.max (${b.max})`,
    });
  }
  if (c.role === 'core' && c.tunnel.connect !== null) {
    out.push({
      code: 'EDGEWAN_ERR_CONFIG_ROLE',
      pointer: '/tunnel/connect',
      value: c.tunnel.connect,
      message: 'a core accepts edges and never connects to a peer',
      allowed: 'null on a core (set tunnel.listen), or role "edge"',
    });
  }
  c.forwards.forEach((f, i) => {
    const fleetCore = c.role === 'core' && c.tunnel.auth.ca !== null;
    if (f.edge !== null && !(fleetCore && f.direction === 'core-to-edge')) {
      out.push({
        code: 'EDGEWAN_ERR_CONFIG_FLEET',
        pointer: `/forwards/${i}/edge`,
        value: f.edge,
        message:
          'only a fleet core (role "core" with tunnel.auth.ca) reads forwards[].edge, on core-to-edge forwards',
        allowed: 'null here',
      });
    } else if (f.edge === null && fleetCore && f.direction === 'core-to-edge') {
      out.push({
        code: 'EDGEWAN_ERR_CONFIG_FLEET',
        pointer: `/forwards/${i}/edge`,
        value: null,
        message: "a fleet core serves many edges: name the one whose side connects this forward's target",
        allowed: 'an enrolled edge name',
      });
    }
  });
  if (c.role === 'edge' && c.tunnel.listen !== null) {
    out.push({
      code: 'EDGEWAN_ERR_CONFIG_ROLE',
      pointer: '/tunnel/listen',
      value: c.tunnel.listen,
      message: 'an edge connects to its core and never listens for peers',
      allowed: 'null on an edge (set tunnel.connect), or role "core"',
    });
  }
}

interface Bound {
  pointer: string;
  host: string;
  port: number;
  udp: boolean;
  tcp: boolean;
}

/** A listen address the schema already accepted (so it parses), host lower-cased for comparison. */
function parseListen(s: string): { host: string; port: number } {
  const hp = splitHostPort(s) ?? { host: s, port: 0 };
  return { host: hp.host.toLowerCase(), port: hp.port };
}

/** Would binding both fail (EADDRINUSE)? Same port and protocol, and the same host or a wildcard covering the other. */
function overlaps(a: Bound, b: Bound): boolean {
  if (a.port !== b.port || a.port === 0 || !((a.udp && b.udp) || (a.tcp && b.tcp))) return false;
  if (a.host === b.host) return true;
  const covers = (w: string, h: string) => w === '::' || (w === '0.0.0.0' && (isIPv4(h) || h === '::'));
  return covers(a.host, b.host) || covers(b.host, a.host);
}

function listenConflicts(c: ResolvedConfig, out: ConfigProblem[]): void {
  const mine = c.role === 'edge' ? 'edge-to-core' : 'core-to-edge';
  const bound: Bound[] = [];
  const add = (pointer: string, listen: string, udp: boolean) =>
    bound.push({ pointer, ...parseListen(listen), udp, tcp: true });
  add('/admin/listen', c.admin.listen, false);
  if (c.role === 'core') add('/tunnel/listen', c.tunnel.listen ?? DEFAULT_TUNNEL_LISTEN, false);
  if (c.socks.listen) add('/socks/listen', c.socks.listen, false);
  if (c.dns.enabled) c.dns.listen.forEach((l, i) => add(`/dns/listen/${i}`, l, true));
  c.forwards.forEach((f, i) => {
    if (f.direction === mine) add(`/forwards/${i}/listen`, f.listen, false);
  });
  for (let j = 1; j < bound.length; j++) {
    const first = bound.slice(0, j).find((a) => overlaps(a, bound[j]));
    if (first) {
      out.push({
        code: 'EDGEWAN_ERR_CONFIG_LISTEN_CONFLICT',
        pointer: bound[j].pointer,
        value: `${bound[j].host}:${bound[j].port}`,
        message: `listens on the same address as ${first.pointer}${c.tunnel.listen === null && first.pointer === '/tunnel/listen' ? ` (a core's default ${DEFAULT_TUNNEL_LISTEN})` : ''}: the second listener could never start`,
        allowed: 'a port (or address) no other listener of this process uses',
      });
    }
  }
  // the other role's forwards are bound by the peer: two on one address fail there
  const theirs = c.forwards.map((f, i) => ({ f, i })).filter(({ f }) => f.direction !== mine);
  for (let j = 1; j < theirs.length; j++) {
    const b: Bound = {
      pointer: `/forwards/${theirs[j].i}/listen`,
      ...parseListen(theirs[j].f.listen),
      udp: false,
      tcp: true,
    };
    const first = theirs
      .slice(0, j)
      .find(({ f }) => overlaps({ pointer: '', ...parseListen(f.listen), udp: false, tcp: true }, b));
    if (first)
      out.push({
        code: 'EDGEWAN_ERR_CONFIG_LISTEN_CONFLICT',
        pointer: b.pointer,
        value: theirs[j].f.listen,
        message: `the same listen address as /forwards/${first.i}/listen (both ${theirs[j].f.direction})`,
        allowed: 'one forward per listen address',
      });
  }
}

function dnsValues(c: ResolvedConfig, out: ConfigProblem[]): void {
  if (!c.dns.enabled) return;
  c.dns.records.forEach((r, i) => {
    const bad = recordProblem(r);
    if (bad)
      out.push({
        code: 'EDGEWAN_ERR_CONFIG_DNS_RECORD',
        pointer: `/dns/records/${i}/${bad.field}`,
        value: bad.field === 'name' ? r.name : r.value,
        message: bad.message,
        allowed: `a valid ${r.type} ${bad.field}`,
      });
  });
  c.dns.allowFrom.forEach((a, i) => {
    const bad = cidrProblem(a);
    if (bad)
      out.push({
        code: 'EDGEWAN_ERR_CONFIG_VALUE',
        pointer: `/dns/allowFrom/${i}`,
        value: a,
        message: bad,
        allowed: 'an IPv4 or IPv6 address, optionally /prefix (0-32 or 0-128)',
      });
  });
}

function files(c: ResolvedConfig, out: ConfigProblem[]): void {
  // the tunnel loads its credentials when it starts: on a core, and on an edge with a peer
  if (c.role === 'core' || c.tunnel.connect !== null) {
    try {
      authMaterial(c.role, c.tunnel.auth);
    } catch (e) {
      if (!(e instanceof AuthProblem)) throw e;
      const a = c.tunnel.auth as unknown as Record<string, unknown>;
      const field = e.pointer.split('/').pop()!;
      out.push({
        code: 'EDGEWAN_ERR_CONFIG_TUNNEL_AUTH',
        pointer: e.pointer,
        value: a[field] ?? undefined,
        message: e.message,
        allowed: a.ca
          ? 'the fleet files of docs/fleet.md ("edgewan ca init", "edgewan enroll" or "keygen --csr" + "ca sign")'
          : 'files written by "edgewan keygen" (or a PSK file of at least 32 hex digits)',
      });
    }
  }
  if (c.dns.enabled && c.dns.hostsFile) {
    try {
      readFileSync(c.dns.hostsFile, 'utf8');
    } catch (e) {
      out.push({
        code: 'EDGEWAN_ERR_CONFIG_FILE',
        pointer: '/dns/hostsFile',
        value: c.dns.hostsFile,
        message: `cannot read the hosts file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        allowed: 'a readable hosts(5) file, or null',
      });
    }
  }
}
