// WAN step of `npm run bench:tunnel`: a slice of the corpus over an emulated 10 Mbit/s,
// 50 ms RTT link, raw TCP vs edge+core (repeat and edited sends, caches warmed by one
// unshaped first send). Four processes, like four machines: this one (client + edge), the
// relay (the link), the core, and the hash sink it delivers to (tunnel-wan-peer.ts). Raw
// TCP takes the same relay to the same sink, so both pay the same link and the same hashing.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { generateCredentials } from '../../engine/src/tunnel/credentials.ts';
import { TunnelComponent } from '../../engine/src/tunnel/component.ts';
import { sendAndHash, sha256 } from './tunnel-lib.ts';
import { benchCtx, type PeerMsg } from './tunnel-wan-peer.ts';

const BITS_PER_S = 10e6;
const ONE_WAY_MS = 25;

export interface Peer {
  proc: ChildProcess;
  ask(m: PeerMsg): Promise<Record<string, number>>;
  first: Promise<Record<string, number>>;
}

export function startPeer(role: 'relay' | 'core' | 'sink', args: string[] = []): Peer {
  const proc = fork(join(import.meta.dirname, 'tunnel-wan-peer.ts'), args, {
    execArgv: process.execArgv,
    env: { ...process.env, EWT_WAN_PEER: role },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const replies: Array<(r: Record<string, number>) => void> = [];
  proc.on('message', (r: Record<string, number>) => replies.shift()?.(r));
  const first = new Promise<Record<string, number>>((res, rej) => {
    replies.push(res);
    proc.once('exit', (c) => rej(new Error(`bench: WAN peer ${role} exited with ${c}`)));
  });
  return {
    proc,
    first,
    ask: (m) =>
      new Promise((res) => {
        replies.push(res);
        proc.send(m);
      }),
  };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Ask each peer process to stop; SIGKILL after 5 s. */
export async function stopPeers(peers: Peer[]): Promise<void> {
  await Promise.all(
    peers.map(
      (p) =>
        new Promise((res) => {
          if (p.proc.exitCode !== null) {
            res(null);
            return;
          }
          const t = setTimeout(() => p.proc.kill('SIGKILL'), 5000);
          p.proc.once('exit', () => {
            clearTimeout(t);
            res(null);
          });
          p.proc.send({ kind: 'stop' });
        }),
    ),
  );
}

export async function wanBench(data: Buffer, ed: Buffer): Promise<Record<string, number>> {
  const keys = mkdtempSync(join(tmpdir(), 'ewT-bench-keys-'));
  generateCredentials(keys);
  const relayP = startPeer('relay');
  const coreP = startPeer('core', [keys]);
  const sinkP = startPeer('sink');
  await relayP.first;
  const { corePort } = await coreP.first;
  const { sinkPort } = await sinkP.first;
  const relay = async (target: number) =>
    (await relayP.ask({ kind: 'relay', target, bitsPerS: BITS_PER_S, oneWayMs: ONE_WAY_MS })).port;
  const rawPort = await relay(sinkPort);
  const linkPort = await relay(corePort);
  const auth = { keyDir: keys, psk: null, cert: null, key: null, pin: null };
  const edgeDir = mkdtempSync(join(tmpdir(), 'ewT-bench-'));
  const edge = new TunnelComponent({
    role: 'edge',
    stateDir: edgeDir,
    listen: null,
    connect: `127.0.0.1:${linkPort}`,
    auth,
    diskMaxBytes: 512 << 20,
  });
  try {
    // The link comes up and both caches are warmed by the first send over an unshaped link (not timed).
    await relayP.ask({ kind: 'shaping', port: linkPort, on: false });
    await edge.start(benchCtx(256 << 20));
    while (!edge.currentLink()) await new Promise((r) => setTimeout(r, 10));
    await edge.currentLink()!.ready$();
    const target = `127.0.0.1:${sinkPort}`;
    if ((await sendAndHash(await edge.open(target), data)) !== sha256(data))
      throw new Error('bench: wrong bytes on the warm-up send');
    await relayP.ask({ kind: 'shaping', port: linkPort, on: true });
    // Reference hashes computed before the clock starts: only the transfer is timed.
    const want = new Map([
      [data, sha256(data)],
      [ed, sha256(ed)],
    ]);
    const timed = async (f: () => Promise<string>, d: Buffer) => {
      const t0 = performance.now();
      const h = await f();
      const ms = performance.now() - t0;
      if (h !== want.get(d)) throw new Error('bench: wrong bytes over the WAN');
      return ms;
    };
    const rawMs = await timed(async () => {
      const s = net.connect(rawPort, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      return sendAndHash(s, data);
    }, data);
    const repMs = await timed(async () => sendAndHash(await edge.open(target), data), data);
    const edMs = await timed(async () => sendAndHash(await edge.open(target), ed), ed);
    return {
      wan_raw_s: round(rawMs / 1000),
      wan_repeat_s: round(repMs / 1000),
      wan_edited_s: round(edMs / 1000),
      wan_speedup_repeat: round(rawMs / repMs, 1),
      wan_speedup_edited: round(rawMs / edMs, 1),
    };
  } finally {
    await edge.stop(100);
    await stopPeers([coreP, relayP, sinkP]);
    for (const d of [keys, edgeDir]) rmSync(d, { recursive: true, force: true });
  }
}
