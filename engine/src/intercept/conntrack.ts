// Recovering the original destination of a REDIRECTed connection. Node has no
// SO_ORIGINAL_DST, so the engine asks conntrack: the entry whose original tuple starts at the
// client (src, sport) and whose reply tuple comes from our listener (reply src = the address
// and port the socket was accepted on) holds the original dst and dport.
// Sources: /proc/net/nf_conntrack when readable (root; OpenWRT, Debian/Ubuntu kernels), else
// `conntrack -L` (netlink, needs CAP_NET_ADMIN), filtered to our listener's port. Lookups that
// arrive while one read runs are answered together by the next read (one read per burst, not
// per connection); a connection not found after one retry is refused by the caller.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { addressKey } from './cidr.ts';

export interface Tuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}
export interface Entry {
  orig: Tuple;
  reply: Tuple;
}

/** Parse /proc/net/nf_conntrack or `conntrack -L` text (TCP entries only). */
export function parseConntrack(text: string): Entry[] {
  const out: Entry[] = [];
  for (const line of text.split('\n')) {
    if (!/\btcp\b/.test(line)) continue;
    const t: Partial<Tuple>[] = [{}, {}];
    let k = 0;
    for (const tok of line.split(/\s+/)) {
      const eq = tok.indexOf('=');
      if (eq < 0) continue;
      const key = tok.slice(0, eq);
      const v = tok.slice(eq + 1);
      if (key !== 'src' && key !== 'dst' && key !== 'sport' && key !== 'dport') continue;
      if (k === 0 && t[0][key] !== undefined) k = 1; // the second src=… starts the reply tuple
      if (k === 1 && t[1][key] !== undefined) break;
      (t[k] as Record<string, unknown>)[key] = key === 'sport' || key === 'dport' ? Number(v) : v;
    }
    if (t.every((x) => x.src && x.dst && x.sport && x.dport))
      out.push({ orig: t[0] as Tuple, reply: t[1] as Tuple });
  }
  return out;
}

export interface Lookup {
  client: string;
  clientPort: number;
  local: string;
  localPort: number;
}
export type Original = { host: string; port: number } | null;

const keyOf = (addr: string, port: number) => `${addressKey(addr) ?? addr}|${port}`;

/** The original destination for each lookup in one text (null: none, or not NATed). */
export function resolveAll(entries: readonly Entry[], wanted: readonly Lookup[]): Original[] {
  const byClient = new Map<string, Entry[]>();
  for (const e of entries) {
    const k = keyOf(e.orig.src, e.orig.sport);
    const l = byClient.get(k);
    if (l) l.push(e);
    else byClient.set(k, [e]);
  }
  return wanted.map((w) => {
    const lk = addressKey(w.local);
    const e = (byClient.get(keyOf(w.client, w.clientPort)) ?? []).find(
      (c) => c.reply.sport === w.localPort && addressKey(c.reply.src) === lk,
    );
    if (!e) return null;
    // not redirected: the client connected to the listener itself
    if (addressKey(e.orig.dst) === lk && e.orig.dport === w.localPort) return null;
    return { host: e.orig.dst, port: e.orig.dport };
  });
}

export type Source = 'proc' | 'conntrack-tool';

export function pickSource(procPath = '/proc/net/nf_conntrack'): Source {
  try {
    accessSync(procPath, constants.R_OK);
    return 'proc';
  } catch {
    return 'conntrack-tool';
  }
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 5000, maxBuffer: 64 << 20 }, (err, out, stderr) => {
      if (err)
        reject(
          new Error(
            `EDGEWAN_ERR_INTERCEPT_CONNTRACK: ${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`,
          ),
        );
      else resolve(out);
    });
  });
}

export class OriginalDestinations {
  readonly source: Source;
  reads = 0;
  readSeconds = 0;
  lookups = 0;
  private queue: Array<{ w: Lookup; tries: number; done: (o: Original) => void }> = [];
  private running = false;

  constructor(
    private readonly listenPort: number,
    opts: { source?: Source; procPath?: string; conntrack?: string } = {},
  ) {
    this.procPath = opts.procPath ?? '/proc/net/nf_conntrack';
    this.tool = opts.conntrack ?? 'conntrack';
    this.source = opts.source ?? pickSource(this.procPath);
  }
  private readonly procPath: string;
  private readonly tool: string;

  lookup(w: Lookup): Promise<Original> {
    this.lookups++;
    return new Promise((done) => {
      this.queue.push({ w, tries: 0, done });
      this.kick();
    });
  }

  private kick(): void {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.queue;
    this.queue = [];
    void this.read(batch.some((b) => (addressKey(b.w.client) ?? '').startsWith('6:')))
      .then(
        (text) => {
          const found = resolveAll(
            parseConntrack(text),
            batch.map((b) => b.w),
          );
          batch.forEach((b, i) => {
            if (found[i] || b.tries >= 1) b.done(found[i]);
            else {
              b.tries++;
              this.queue.push(b);
            } // once more: the next read, after this one
          });
        },
        () => {
          for (const b of batch) b.done(null);
        },
      )
      .finally(() => {
        this.running = false;
        if (this.queue.length) setTimeout(() => this.kick(), this.queue.every((b) => b.tries > 0) ? 20 : 0);
      });
  }

  private async read(v6: boolean): Promise<string> {
    const t0 = process.hrtime.bigint();
    try {
      if (this.source === 'proc') return await readFile(this.procPath, 'latin1');
      const args = ['-L', '-p', 'tcp', '--reply-port-src', String(this.listenPort)];
      const v4 = await run(this.tool, args);
      return v6 ? v4 + (await run(this.tool, [...args, '-f', 'ipv6'])) : v4;
    } finally {
      this.reads++;
      this.readSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
    }
  }
}
