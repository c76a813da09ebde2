// Checks of the `intercept` section the schema cannot express, reported like every config
// problem (JSON pointer, value, what is allowed; exit 78 from check-config): CIDRs that do not
// parse, empty or overlapping sets, excludes outside their rule, and a rule that would
// intercept the core's own tunnel address (the edge would carry its peer's traffic to itself).
// compileRules() is also what the nftables table is rendered from (nft.ts).
import type { ConfigProblem } from '../config/errors.ts';
import type { InterceptConfig, ResolvedConfig } from '../config/types.ts';
import { addressValue, cidrContains, cidrCovers, cidrOverlap, parseCidr, type Cidr } from './cidr.ts';

export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}
/** A network with its index in the config's list (for pointers). */
export type Listed = Cidr & { readonly index: number };
export interface CompiledRule {
  readonly destinations: Listed[];
  readonly ports: PortRange[];
  readonly exclude: Listed[];
}

const VALUE = 'EDGEWAN_ERR_CONFIG_INTERCEPT';

function parsePort(p: number | string): PortRange | string {
  if (typeof p === 'number') return { lo: p, hi: p };
  const [lo, hi] = p.split('-').map(Number);
  if (!(lo >= 1 && hi <= 65535)) return 'ports are 1-65535';
  if (lo > hi) return `range starts above its end (${lo} > ${hi})`;
  return { lo, hi };
}

const portsOverlap = (a: readonly PortRange[], b: readonly PortRange[]) =>
  a.some((x) => b.some((y) => x.lo <= y.hi && y.lo <= x.hi));
const portIn = (ps: readonly PortRange[], port: number) => ps.some((r) => r.lo <= port && port <= r.hi);

/** Parse every rule; problems carry pointers under /intercept/rules. */
export function compileRules(ic: InterceptConfig): { rules: CompiledRule[]; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const rules: CompiledRule[] = [];
  ic.rules.forEach((r, i) => {
    const at = `/intercept/rules/${i}`;
    const cidrs = (list: readonly string[], key: string): Listed[] => {
      const out: Listed[] = [];
      list.forEach((text, j) => {
        const c = parseCidr(text);
        if (typeof c === 'string') {
          problems.push({
            code: VALUE,
            pointer: `${at}/${key}/${j}`,
            value: text,
            message: `not a network: ${c}`,
            allowed: 'CIDR such as "10.20.0.0/16" or "fd00:20::/48", or one address',
          });
          return;
        }
        const k = out.findIndex((o) => cidrOverlap(o, c));
        if (k >= 0) {
          problems.push({
            code: VALUE,
            pointer: `${at}/${key}/${j}`,
            value: text,
            message: `overlaps ${out[k].text} in the same list`,
            allowed: 'networks that do not overlap (drop the smaller one)',
          });
          return;
        }
        out.push({ ...c, index: j });
      });
      return out;
    };
    const destinations = cidrs(r.destinations, 'destinations');
    const exclude = cidrs(r.exclude, 'exclude');
    exclude.forEach((e) => {
      if (!destinations.some((d) => cidrCovers(d, e)))
        problems.push({
          code: VALUE,
          pointer: `${at}/exclude/${e.index}`,
          value: r.exclude[e.index],
          message: "not inside any of this rule's destinations (it excludes nothing)",
          allowed: 'a network inside one of the destinations',
        });
    });
    const ports: PortRange[] = [];
    r.ports.forEach((p, j) => {
      const pr = parsePort(p);
      if (typeof pr === 'string') {
        problems.push({
          code: VALUE,
          pointer: `${at}/ports/${j}`,
          value: p,
          message: pr,
          allowed: 'a port 1-65535 or "low-high"',
        });
        return;
      }
      if (portsOverlap(ports, [pr])) {
        problems.push({
          code: VALUE,
          pointer: `${at}/ports/${j}`,
          value: p,
          message: 'overlaps another port of this rule',
          allowed: 'ports and ranges that do not overlap',
        });
        return;
      }
      ports.push(pr);
    });
    rules.push({ destinations, ports, exclude });
  });
  // Two rules that match the same destination and port: one of them is dead or a mistake.
  rules.forEach((r, i) => {
    for (let k = 0; k < i; k++) {
      if (!portsOverlap(rules[k].ports, r.ports)) continue;
      const j = r.destinations.findIndex((d) => rules[k].destinations.some((o) => cidrOverlap(o, d)));
      if (j >= 0) {
        problems.push({
          code: VALUE,
          pointer: `/intercept/rules/${i}/destinations/${r.destinations[j].index}`,
          value: ic.rules[i].destinations[r.destinations[j].index],
          message: `overlaps rule ${k} (same destinations and ports)`,
          allowed: 'rules whose destinations or ports do not overlap (merge them into one rule)',
        });
        break;
      }
    }
  });
  return { rules, problems };
}

/** Does this compiled rule set intercept host:port? (the loop check; also tests) */
export function intercepts(rules: readonly CompiledRule[], host: string, port: number): number {
  const v = addressValue(host);
  if (!v) return -1;
  return rules.findIndex(
    (r) =>
      portIn(r.ports, port) &&
      r.destinations.some((d) => cidrContains(d, v.family, v.value)) &&
      !r.exclude.some((e) => cidrContains(e, v.family, v.value)),
  );
}

export function checkIntercept(c: ResolvedConfig): ConfigProblem[] {
  const ic = c.intercept;
  if (!ic) return [];
  const { rules, problems } = compileRules(ic);
  if (!ic.enabled) return problems;
  if (c.role !== 'edge')
    problems.push({
      code: VALUE,
      pointer: '/intercept/enabled',
      value: true,
      message: 'interception runs on the edge only',
      allowed: 'false on the core, or role "edge"',
    });
  if (ic.rules.length === 0)
    problems.push({
      code: VALUE,
      pointer: '/intercept/rules',
      value: [],
      message: 'interception is enabled but there is no rule (nothing would be intercepted)',
      allowed: 'at least one rule {"destinations": [...], "ports": [...]}, or enabled false',
    });
  for (const connect of [c.tunnel.connect ?? []].flat()) {
    // every core of a failover list
    const i = connect.lastIndexOf(':');
    const host = connect.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    const k = intercepts(rules, host, Number(connect.slice(i + 1)));
    if (k >= 0) {
      problems.push({
        code: 'EDGEWAN_ERR_CONFIG_INTERCEPT_LOOP',
        pointer: `/intercept/rules/${k}/destinations`,
        value: connect,
        message: `rule ${k} would intercept the core's own tunnel address ${connect} (a loop: tunnel traffic carried inside the tunnel)`,
        allowed: `add "${host}" to /intercept/rules/${k}/exclude, or leave port ${connect.slice(i + 1)} out of its ports`,
      });
    }
  }
  return problems;
}
