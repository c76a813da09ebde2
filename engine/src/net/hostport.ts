// "host:port" and "[v6]:port", parsed and written in one place for every listener and dialler
// (tunnel, forwards, SOCKS, interception, DNS, the config's listen-conflict rule). Pure: the
// callers raise their own coded errors on null.
import { isIPv6 } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * `host:port`, `[v6]:port`; with `defaultPort`, also a bare `host`, `[v6]` or unbracketed IPv6
 * address. Null when `s` is none of these or the port is not 0–65535.
 */
export function splitHostPort(s: string, defaultPort?: number): HostPort | null {
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s) ?? /^([^:[\]]+)(?::(\d{1,5}))?$/.exec(s);
  if (!m) return defaultPort !== undefined && isIPv6(s) ? { host: s, port: defaultPort } : null;
  if (m[2] === undefined && defaultPort === undefined) return null;
  const port = m[2] === undefined ? defaultPort! : Number(m[2]);
  return port <= 65535 ? { host: m[1], port } : null;
}

/** `host:port`, with an IPv6 host in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
