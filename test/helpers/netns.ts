// Network namespaces a test creates for itself: named with the test's pid, joined by veth
// pairs, every address inside them; removed as a whole (veths, nft tables and conntrack
// entries go with their namespace), also when the test fails half-way.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export function sh(args: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8', input, timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? String(r.error ?? '') };
}

export function must(args: string[]): string {
  const r = sh(args);
  if (r.code !== 0) throw new Error(`${args.join(' ')} failed (${r.code}): ${r.err}`);
  return r.out;
}

export class Netns {
  readonly made: string[] = [];
  private readonly procs = new Set<ChildProcess>();

  constructor(readonly prefix: string) {}

  name(short: string): string {
    return `${this.prefix}${short}`;
  }

  add(short: string): string {
    const ns = this.name(short);
    sh(['ip', 'netns', 'del', ns]); // a leftover of an earlier, killed run
    must(['ip', 'netns', 'add', ns]);
    this.made.push(ns);
    this.exec(short, ['ip', 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** A veth pair a (in ns A) ↔ b (in ns B), up, with the given addresses ("10.0.0.1/24", "fd00::1/64"). */
  link(a: string, ifA: string, addrsA: string[], b: string, ifB: string, addrsB: string[]): void {
    must([
      'ip',
      'link',
      'add',
      `${this.prefix}t`,
      'netns',
      this.name(a),
      'type',
      'veth',
      'peer',
      'name',
      `${this.prefix}u`,
      'netns',
      this.name(b),
    ]);
    this.exec(a, ['ip', 'link', 'set', `${this.prefix}t`, 'name', ifA]);
    this.exec(b, ['ip', 'link', 'set', `${this.prefix}u`, 'name', ifB]);
    for (const [ns, dev, addrs] of [
      [a, ifA, addrsA],
      [b, ifB, addrsB],
    ] as const) {
      for (const ad of addrs)
        this.exec(ns, ['ip', 'addr', 'add', ad, 'dev', dev, ...(ad.includes(':') ? ['nodad'] : [])]);
      this.exec(ns, ['ip', 'link', 'set', dev, 'up']);
    }
  }

  exec(short: string, args: string[]): string {
    return must(['ip', 'netns', 'exec', this.name(short), ...args]);
  }
  run(short: string, args: string[], input?: string) {
    return sh(['ip', 'netns', 'exec', this.name(short), ...args], input);
  }

  spawn(short: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', this.name(short), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...opts,
    });
    this.procs.add(p);
    p.on('exit', () => this.procs.delete(p));
    return p;
  }

  /** Kill what is still running, then delete every namespace made here. */
  cleanup(): void {
    for (const p of this.procs) p.kill('SIGKILL');
    for (const ns of this.made.reverse()) sh(['ip', 'netns', 'del', ns]);
    this.made.length = 0;
  }
}

/**
 * The branch topology of the interception test and bench: client c (10.77.1.2, fd77:1::2) —
 * router r (lan0 10.77.1.1, wan0 10.77.2.1; forwarding) — wan w (w0 10.77.2.2, w1 10.77.3.1;
 * forwarding) — dc d (10.77.3.2, fd77:3::2). Every address lives inside these namespaces.
 */
export function branchNet(n: Netns): void {
  for (const s of ['c', 'r', 'w', 'd']) n.add(s);
  n.link('c', 'eth0', ['10.77.1.2/24', 'fd77:1::2/64'], 'r', 'lan0', ['10.77.1.1/24', 'fd77:1::1/64']);
  n.link('r', 'wan0', ['10.77.2.1/24', 'fd77:2::1/64'], 'w', 'w0', ['10.77.2.2/24', 'fd77:2::2/64']);
  n.link('w', 'w1', ['10.77.3.1/24', 'fd77:3::1/64'], 'd', 'eth0', ['10.77.3.2/24', 'fd77:3::2/64']);
  for (const s of ['r', 'w']) {
    n.exec(s, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    n.exec(s, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
  }
  n.exec('c', ['ip', 'route', 'add', 'default', 'via', '10.77.1.1']);
  n.exec('c', ['ip', '-6', 'route', 'add', 'default', 'via', 'fd77:1::1']);
  n.exec('r', ['ip', 'route', 'add', 'default', 'via', '10.77.2.2']);
  n.exec('r', ['ip', '-6', 'route', 'add', 'default', 'via', 'fd77:2::2']);
  n.exec('w', ['ip', 'route', 'add', '10.77.1.0/24', 'via', '10.77.2.1']);
  n.exec('w', ['ip', '-6', 'route', 'add', 'fd77:1::/64', 'via', 'fd77:2::1']);
  n.exec('d', ['ip', 'route', 'add', 'default', 'via', '10.77.3.1']);
  n.exec('d', ['ip', '-6', 'route', 'add', 'default', 'via', 'fd77:3::1']);
}
