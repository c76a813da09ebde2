// Test scaffolding for tunnel tests: a fake ComponentContext, a core+edge pair on loopback
// with fresh credentials, an echo server, and stream helpers. Not a test file itself.
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { ComponentContext } from '../src/supervisor/component.ts';
import { createLogger } from '../src/log/logger.ts';
import { generateCredentials } from '../src/tunnel/credentials.ts';
import { TunnelComponent, type TunnelOptions } from '../src/tunnel/component.ts';
import type { Duplex } from 'node:stream';

export interface FakeCtx extends ComponentContext {
  states: string[];
  lines: string[];
}

export function fakeCtx(budget = 16 << 20): FakeCtx {
  const lines: string[] = [];
  const states: string[] = [];
  const ac = new AbortController();
  return {
    log: createLogger({
      level: 'debug',
      write: (l) => {
        lines.push(l);
      },
    }),
    signal: ac.signal,
    budgetBytes: () => budget,
    budgets: () => ({ chunkMemory: budget, dns: 0, buffers: budget, heapCapMiB: 64 }) as never,
    unconfigured: (r) => {
      states.push(`unconfigured:${r}`);
    },
    degraded: (r) => {
      states.push(`degraded:${r}`);
    },
    healthy: () => {
      states.push('healthy');
    },
    fail: (e) => {
      states.push(`failed:${e.message}`);
    },
    states,
    lines,
  };
}

export function tmp(prefix = 'ewC-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Options every test peer shares: the pinned pair in `keys`, a fast backoff. */
export function peerOptions(keys: string) {
  return {
    auth: { keyDir: keys, psk: null, cert: null, key: null, pin: null },
    diskMaxBytes: 64 << 20,
    pingIntervalMs: 1000,
    backoffMs: { initial: 50, max: 500 },
  };
}

/** A core listening on a loopback port of its own. */
export async function startCore(keys: string, extra: Partial<TunnelOptions> = {}, cctx = fakeCtx()) {
  const core = new TunnelComponent({
    role: 'core',
    stateDir: tmp(),
    listen: '127.0.0.1:0',
    connect: null,
    ...peerOptions(keys),
    ...extra,
  });
  await core.start(cctx);
  return core;
}

export async function pair(extra: Partial<TunnelOptions> = {}, keys = tmp('ewC-keys-')) {
  try {
    generateCredentials(keys);
  } catch {
    /* reuse existing */
  }
  const base = peerOptions(keys);
  const cctx = fakeCtx();
  const core = await startCore(keys, extra, cctx);
  const port = core.address()!.port;
  const edge = new TunnelComponent({
    role: 'edge',
    stateDir: tmp(),
    listen: null,
    connect: `127.0.0.1:${port}`,
    ...base,
    ...extra,
  });
  const ectx = fakeCtx();
  await edge.start(ectx);
  await waitFor(() => edge.currentLink() !== null && core.currentLink() !== null);
  await Promise.all([edge.currentLink()!.ready$(), core.currentLink()!.ready$()]);
  return { core, edge, cctx, ectx, keys, port };
}

/** A core and an edge on fixed state dirs (so a test can stop them and start them again on the same caches). */
export async function pairOn(
  keys: string,
  dirs: { edge: string; core: string },
): Promise<{ edge: TunnelComponent; core: TunnelComponent }> {
  const base = {
    auth: { keyDir: keys, psk: null, cert: null, key: null, pin: null },
    diskMaxBytes: 64 << 20,
    backoffMs: { initial: 50, max: 500 },
  };
  const core = new TunnelComponent({
    role: 'core',
    stateDir: dirs.core,
    listen: '127.0.0.1:0',
    connect: null,
    ...base,
  });
  await core.start(fakeCtx(64 << 20));
  const edge = new TunnelComponent({
    role: 'edge',
    stateDir: dirs.edge,
    listen: null,
    connect: `127.0.0.1:${core.address()!.port}`,
    ...base,
  });
  await edge.start(fakeCtx(64 << 20));
  await waitFor(() => edge.currentLink() !== null && core.currentLink() !== null);
  await Promise.all([edge.currentLink()!.ready$(), core.currentLink()!.ready$()]);
  return { edge, core };
}

export async function waitFor(cond: () => boolean, ms = 10000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An echo server on loopback; returns its port and a close function. */
export async function echoServer(): Promise<{ port: number; close(): void }> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    socks.add(s);
    s.on('error', () => {});
    s.on('close', () => socks.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => {
      for (const s of socks) s.destroy();
      srv.close();
    },
  };
}

/** Write data into a duplex (with backpressure) and end it; collect everything read back. */
export async function roundTrip(
  s: Duplex,
  data: Uint8Array,
  piece = 50000,
): Promise<{ bytes: Buffer; error: Error | null }> {
  const got: Buffer[] = [];
  let error: Error | null = null;
  const done = new Promise<void>((res) => {
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => res());
    s.on('error', (e) => {
      error = e;
      res();
    });
    s.on('close', () => res());
  });
  for (let o = 0; o < data.length; o += piece) {
    if (!s.write(data.subarray(o, Math.min(data.length, o + piece))))
      await new Promise<void>((r) => {
        const f = () => {
          s.off('drain', f);
          s.off('close', f);
          r();
        };
        s.on('drain', f);
        s.on('close', f);
      });
    if (s.destroyed) break;
  }
  s.end();
  await done;
  return { bytes: Buffer.concat(got), error };
}

export const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A sink on loopback: reads everything, answers with the SHA-256 hex of what it got. */
export async function hashSink(): Promise<{ port: number; close(): void }> {
  const srv = net.createServer((s) => {
    const h = createHash('sha256');
    s.on('data', (d) => h.update(d));
    s.on('end', () => s.end(h.digest('hex')));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, close: () => srv.close() };
}

/** Seeded contiguous edits (count of them, totalling `share` of the corpus) on a copy. */
export function edit(data: Uint8Array, seed: number, count = 20, share = 0.01): Uint8Array {
  const out = Uint8Array.from(data);
  let s = seed;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const each = Math.floor((data.length * share) / count);
  for (let i = 0; i < count; i++) {
    const at = Math.floor(rnd() * (data.length - each));
    for (let k = 0; k < each; k++) out[at + k] = Math.floor(rnd() * 256);
  }
  return out;
}
