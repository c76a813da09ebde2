// Values of local DNS data and of dns.allowFrom, checked without the DNS machinery: used by
// dns/local.ts and dns/server.ts at start and by the config loader (engine/src/config/rules.ts,
// which `check-config` runs), so it stays free of dns-packet and sockets.
import { isIPv4, isIPv6 } from 'node:net';
import type { LocalRecord } from './options.ts';

/** A name a DNS answer can carry: labels of 1-63 octets, at most 253 in all; "." is the root. */
export function isDomainName(n: string): boolean {
  if (n === '.') return true;
  const name = n.replace(/\.$/, '');
  if (name.length === 0 || Buffer.byteLength(name) > 253) return false;
  return name.split('.').every((l) => l.length >= 1 && l.length <= 63 && /^[A-Za-z0-9_*-]+$/.test(l));
}

/**
 * Why a record cannot be answered, or null. The one check of record values: LocalData (local.ts,
 * at start) and the config loader (engine/src/config/rules.ts, with the record's pointer)
 * both use it, so `check-config` rejects what would fail or answer garbage at run time.
 */
export function recordProblem(r: LocalRecord): { field: 'name' | 'value'; message: string } | null {
  if (!isDomainName(r.name))
    return {
      field: 'name',
      message: `"${r.name}" is not a domain name (labels of 1-63 letters, digits, "-" or "_", at most 253 characters)`,
    };
  if (r.type === 'NXDOMAIN') return null;
  const v = r.value ?? '';
  if (!v) return { field: 'value', message: `a ${r.type} record needs a value` };
  switch (r.type) {
    case 'A':
      return isIPv4(v)
        ? null
        : {
            field: 'value',
            message: `"${v}" is not an IPv4 address (an A record holds one, e.g. 192.168.1.10)`,
          };
    case 'AAAA':
      return isIPv6(v)
        ? null
        : {
            field: 'value',
            message: `"${v}" is not an IPv6 address (an AAAA record holds one, e.g. fd00::10)`,
          };
    case 'CNAME':
    case 'PTR':
      return isDomainName(v)
        ? null
        : { field: 'value', message: `"${v}" is not a domain name (a ${r.type} record points to one)` };
    case 'MX': {
      const m = /^(\d{1,5})\s+(\S+)$/.exec(v.trim());
      return m && Number(m[1]) <= 65535 && isDomainName(m[2])
        ? null
        : {
            field: 'value',
            message: `"${v}" is not "PREFERENCE NAME" (an MX record holds a preference 0-65535 and a mail server name, e.g. "10 mail.example.net")`,
          };
    }
    case 'TXT':
      return Buffer.byteLength(v) <= 255
        ? null
        : {
            field: 'value',
            message: `TXT value of ${Buffer.byteLength(v)} bytes; one DNS character-string holds at most 255 (give several records for more)`,
          };
    default:
      return { field: 'value', message: `unknown type ${String(r.type)}` };
  }
}

/** Why an allowFrom entry is not an address or CIDR, or null (also used by the config loader). */
export function cidrProblem(c: string): string | null {
  const [addr, bits, more] = c.split('/');
  const v6 = isIPv6(addr);
  if (more !== undefined || (!v6 && !isIPv4(addr))) return `"${c}" is not an address or CIDR`;
  if (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= (v6 ? 128 : 32)))
    return `"${c}": prefix length ${bits} is out of range (0-${v6 ? 128 : 32})`;
  return null;
}
