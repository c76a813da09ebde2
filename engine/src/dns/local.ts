// Local data answered authoritatively (AA set, never forwarded): the config's records and a
// hosts(5) file. Two dnsmasq cases map onto them: `host-record=name,ip` is an exact-name
// A/AAAA record (with its PTR synthesised), and `address=/domain/ip` is a record with
// `subdomains: true` — the domain and every name below it; a type the rule does not hold
// gets an authoritative NODATA, and type NXDOMAIN blocks the whole domain.
// Answers are encoded once with dns-packet and replayed through the cache's render path.
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import dnsPacket from 'dns-packet';
import { layoutResponse } from './wire.ts';
import { entrySize, type CacheEntry } from './cache.ts';
import type { LocalRecord } from './options.ts';
import { isDomainName, recordProblem } from './records.ts';

const QTYPE: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28 };
const TYPE_ANY = 255;

interface Rule {
  records: LocalRecord[];
  nxdomain: boolean;
}

function normal(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** 192.168.1.10 -> 10.1.168.192.in-addr.arpa; IPv6 to nibbles under ip6.arpa. */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const parts = ip.split('::');
  const head = parts[0] ? parts[0].split(':') : [];
  const tail = parts.length > 1 && parts[1] ? parts[1].split(':') : [];
  const groups = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
  return `${groups
    .map((g) => g.padStart(4, '0'))
    .join('')
    .split('')
    .reverse()
    .join('.')}.ip6.arpa`;
}

/** Parses a hosts(5) file into exact-name A/AAAA records. */
export function parseHosts(text: string, ttlS = 300): LocalRecord[] {
  const out: LocalRecord[] = [];
  for (const raw of text.split('\n')) {
    const [ip, ...names] = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (!ip || names.length === 0) continue;
    const type = isIPv4(ip) ? 'A' : isIPv6(ip) ? 'AAAA' : null;
    if (!type) continue;
    for (const n of names) if (isDomainName(n)) out.push({ name: n, type, value: ip, ttlS }); // others could not be asked for
  }
  return out;
}

function answerData(r: LocalRecord): unknown {
  if (r.type === 'TXT') return [r.value ?? ''];
  if (r.type === 'MX') {
    const [pref, exchange] = (r.value ?? '').trim().split(/\s+/);
    return { preference: Number(pref), exchange };
  }
  return r.value;
}

export class LocalData {
  private readonly exact = new Map<string, LocalRecord[]>();
  private readonly rules = new Map<string, Rule>();
  private readonly built = new Map<string, CacheEntry>();
  readonly count: number;

  constructor(records: LocalRecord[], hostsFile: string | null) {
    const all = [...records];
    if (hostsFile) all.push(...parseHosts(readFileSync(hostsFile, 'utf8')));
    for (const r of all) {
      const name = normal(r.name);
      const bad = recordProblem(r);
      if (bad)
        throw Object.assign(new Error(`dns record "${r.name}" (${r.type}): ${bad.message}`), {
          code: 'EDGEWAN_ERR_DNS_RECORD',
        });
      if (r.subdomains || r.type === 'NXDOMAIN') {
        const rule = this.rules.get(name) ?? { records: [], nxdomain: false };
        if (r.type === 'NXDOMAIN') rule.nxdomain = true;
        else rule.records.push(r);
        this.rules.set(name, rule);
        if (!r.subdomains) this.exact.set(name, this.exact.get(name) ?? []);
        continue;
      }
      this.push(name, r);
    }
    // host-record semantics: an address also answers its reverse lookup, unless a PTR exists
    for (const r of all) {
      if ((r.type === 'A' || r.type === 'AAAA') && !r.subdomains && r.value) {
        const rev = reverseName(r.value);
        if (!(this.exact.get(rev) ?? []).some((x) => x.type === 'PTR'))
          this.push(rev, { name: rev, type: 'PTR', value: normal(r.name), ttlS: r.ttlS });
      }
    }
    this.count = all.length;
  }

  private push(name: string, r: LocalRecord): void {
    const list = this.exact.get(name) ?? [];
    list.push(r);
    this.exact.set(name, list);
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.rules.size === 0;
  }

  /** The authoritative answer for name/type, or null when the name is not local. */
  lookup(name: string, qtype: number, qclass: number, key = `${name}|${qtype}`): CacheEntry | null {
    if (qclass !== 1) return null;
    const hit = this.built.get(key);
    if (hit) return hit;
    let records = this.exact.get(name);
    let nx = false;
    if (!records || records.length === 0) {
      const rule = this.findRule(name);
      if (rule) {
        records = rule.records;
        nx = rule.nxdomain;
      } else if (records === undefined) return null;
    }
    const list = records ?? [];
    const cname = list.find((r) => r.type === 'CNAME');
    const chosen = nx
      ? []
      : cname && qtype !== QTYPE.CNAME
        ? [cname, ...(this.exact.get(normal(cname.value!)) ?? []).filter((r) => QTYPE[r.type] === qtype)]
        : list.filter((r) => qtype === TYPE_ANY || QTYPE[r.type] === qtype);
    const entry = this.encode(name, qtype, chosen, nx);
    if (this.built.size > 4096) this.built.clear(); // subdomain answers are per name: keep the memo bounded
    this.built.set(key, entry);
    return entry;
  }

  private findRule(name: string): Rule | undefined {
    if (this.rules.size === 0) return undefined;
    for (let n = name; ; n = n.slice(n.indexOf('.') + 1)) {
      const r = this.rules.get(n);
      if (r) return r;
      if (!n.includes('.')) return this.rules.get('');
    }
  }

  private encode(name: string, qtype: number, records: LocalRecord[], nx: boolean): CacheEntry {
    const wire = dnsPacket.encode({
      type: 'response',
      id: 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | (nx ? 3 : 0),
      questions: [{ name, type: 'A', class: 'IN' }], // the real qtype is written below: any number is allowed
      answers: records.map((r) => ({
        name: r.type === 'CNAME' || records[0]?.type !== 'CNAME' ? name : normal(records[0].value!),
        type: r.type as dnsPacket.RecordType,
        class: 'IN',
        ttl: r.ttlS ?? 300,
        data: answerData(r),
      })) as dnsPacket.Answer[],
    });
    const lay = layoutResponse(wire);
    wire.writeUInt16BE(qtype, lay.questionEnd - 4);
    const e: CacheEntry = {
      wire,
      ttlOffsets: lay.ttlOffsets,
      questionEnd: lay.questionEnd,
      storedAt: 0,
      ttlS: 0,
      negative: records.length === 0,
      fixed: true,
      hits: 0,
      size: 0,
    };
    e.size = entrySize(name, e);
    return e;
  }
}
