// Pieces of `npm run bench:tunnel`: the mixed corpus (cached), a shaping relay that emulates
// a WAN (rate limit + one-way delay, since netem is not available here), and a hash sink.
import net from 'node:net';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir(): string {
  const d = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'edgewan', 'bench');
  mkdirSync(d, { recursive: true });
  return d;
}

function filesUnder(dir: string, pred: (p: string) => boolean, out: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const p = join(dir, n);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) filesUnder(p, pred, out);
    else if (st.isFile() && pred(p)) out.push(p);
  }
  return out;
}

function takeFiles(files: string[], budget: number): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  for (const f of files) {
    if (n >= budget) break;
    const b = readFileSync(f);
    parts.push(b);
    n += b.length;
  }
  return Buffer.concat(parts).subarray(0, budget);
}

function logText(bytes: number): Buffer {
  const words =
    'GET POST /api/v1/items /static/app.js user=alice user=bob status=200 status=404 latency_ms cache=miss cache=hit upstream=10.0.0.7 tls=1.3'.split(
      ' ',
    );
  let s = 1;
  const rnd = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % n;
  };
  const lines: string[] = [];
  let n = 0;
  while (n < bytes) {
    const l = `2026-11-${String(1 + rnd(28)).padStart(2, '0')}T${String(rnd(24)).padStart(2, '0')}:${String(rnd(60)).padStart(2, '0')}:${String(rnd(60)).padStart(2, '0')}Z branch-${rnd(40)} ${words[rnd(words.length)]} ${words[rnd(words.length)]} id=${rnd(1e9).toString(16)} ${words[rnd(words.length)]} bytes=${rnd(1e6)}\n`;
    lines.push(l);
    n += l.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

/**
 * ≥ 100 MB of realistic mixed data, a quarter each: log text, JavaScript/TypeScript source
 * (node_modules), binaries (shared libraries), and an uncompressed tarball of /usr/share/doc
 * (itself mixed: text and .gz files). Cached by size in the bench cache directory.
 */
export function corpus(totalBytes: number): Buffer {
  const file = join(cacheDir(), `corpus-${totalBytes}.bin`);
  if (existsSync(file) && statSync(file).size === totalBytes) return readFileSync(file);
  const q = Math.floor(totalBytes / 4);
  const text = logText(q);
  const src = takeFiles(
    filesUnder(join(import.meta.dirname, '../../node_modules'), (p) => /\.(js|ts|mjs|cjs)$/.test(p)),
    q,
  );
  const bin = takeFiles(
    filesUnder('/usr/lib/x86_64-linux-gnu', (p) => /\.so[.\d]*$/.test(p)).concat(
      filesUnder('/usr/bin', () => true),
    ),
    q,
  );
  const tar = spawnSync(
    'tar',
    ['cf', '-', '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-C', '/usr/share', 'doc', 'man'],
    { maxBuffer: 1 << 30 },
  ).stdout.subarray(0, totalBytes - 3 * q);
  const all = Buffer.concat([text, src, bin, tar]);
  if (all.length !== totalBytes)
    throw new Error(
      `corpus came out ${all.length} bytes, wanted ${totalBytes} (not enough source files on this machine?)`,
    );
  writeFileSync(`${file}.tmp`, all);
  renameSync(`${file}.tmp`, file);
  return all;
}

/** 20 seeded contiguous edits totalling 1 % of the data (new random bytes). */
export function edited(data: Buffer, seed = 7): Buffer {
  const out = Buffer.from(data);
  let s = seed;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const each = Math.floor((data.length * 0.01) / 20);
  for (let i = 0; i < 20; i++) {
    const at = Math.floor(rnd() * (data.length - each));
    for (let k = 0; k < each; k++) out[at + k] = Math.floor(rnd() * 256);
  }
  return out;
}

export interface Relay {
  port: number;
  shaping: boolean;
  close(): void;
}

/**
 * TCP relay to `target` emulating a WAN link: each direction is serialised at `bitsPerS`
 * and delivered `oneWayMs` later (RTT = 2 × oneWayMs). Bounded queue: the source is paused
 * while more than 256 KiB wait, like a real bottleneck's buffer.
 */
export async function wanRelay(target: number, bitsPerS: number, oneWayMs: number): Promise<Relay> {
  const socks = new Set<net.Socket>();
  const relay: Relay = {
    port: 0,
    shaping: true,
    close: () => {
      for (const s of socks) s.destroy();
      srv.close();
    },
  };
  const pipe = (from: net.Socket, to: net.Socket) => {
    // One FIFO per direction drained by one timer: separate timers per packet could reorder.
    const q: Array<{ at: number; d: Buffer | null }> = [];
    let free = 0;
    let queued = 0;
    let timer: NodeJS.Timeout | null = null;
    const drain = () => {
      timer = null;
      const now = performance.now();
      while (q.length && q[0].at <= now + 0.5) {
        const { d } = q.shift()!;
        if (d === null) {
          to.end();
          continue;
        }
        to.write(d);
        queued -= d.length;
      }
      if (queued <= 256 * 1024) from.resume();
      if (q.length) timer = setTimeout(drain, Math.max(0, q[0].at - performance.now()));
    };
    const enqueue = (d: Buffer | null) => {
      const now = performance.now();
      if (!relay.shaping && q.length === 0) {
        if (d) to.write(d);
        else to.end();
        return;
      }
      if (d) {
        free = Math.max(free, now) + (d.length * 8 * 1000) / bitsPerS;
        queued += d.length;
      }
      q.push({ at: Math.max(free, now) + (relay.shaping ? oneWayMs : 0), d });
      if (queued > 256 * 1024) from.pause();
      if (!timer) timer = setTimeout(drain, Math.max(0, q[0].at - now));
    };
    from.on('data', (d: Buffer) => enqueue(d));
    from.on('end', () => enqueue(null));
    from.on('error', () => to.destroy());
  };
  const srv = net.createServer({ allowHalfOpen: true }, (a) => {
    const b = net.connect({ port: target, host: '127.0.0.1', allowHalfOpen: true });
    socks.add(a);
    socks.add(b);
    a.setNoDelay(true);
    b.setNoDelay(true);
    pipe(a, b);
    pipe(b, a);
    // Closing one side must not cut what is still queued for the other: only errors propagate.
    a.on('close', (err) => {
      if (err) b.destroy();
      socks.delete(a);
    });
    b.on('close', (err) => {
      if (err) a.destroy();
      socks.delete(b);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  relay.port = (srv.address() as net.AddressInfo).port;
  return relay;
}

/** Reads everything, answers with the SHA-256 hex of it. */
export async function hashSink(): Promise<{ port: number; close(): void }> {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    const h = createHash('sha256');
    s.on('data', (d) => h.update(d));
    s.on('end', () => s.end(h.digest('hex')));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, close: () => srv.close() };
}

/** Send data over a duplex, end, and read the sink's answer. */
export async function sendAndHash(s: import('node:stream').Duplex, data: Buffer): Promise<string> {
  const chunks: Buffer[] = [];
  const done = new Promise<void>((res, rej) => {
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => res());
    s.on('error', rej);
  });
  done.catch(() => {}); // a reset while we still write surfaces below, not as an unhandled rejection
  for (let o = 0; o < data.length; o += 65536) {
    if (!s.write(data.subarray(o, o + 65536)))
      await Promise.race([new Promise((r) => s.once('drain', r)), done]);
  }
  s.end();
  await done;
  return Buffer.concat(chunks).toString();
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
