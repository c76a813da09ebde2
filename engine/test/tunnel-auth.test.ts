// Authentication and isolation: a peer with the wrong keys (or PSK) never gets a link, let
// alone a stream; non-TLS garbage is dropped; a stalled reader does not stall other streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pair, fakeCtx, tmp, echoServer, roundTrip, sha, waitFor } from './tunnel-helpers.ts';
import { generateCredentials } from '../src/tunnel/credentials.ts';
import { TunnelComponent } from '../src/tunnel/component.ts';
import { textLike, seeded } from './codec-corpus.ts';

const auth = (over: object) => ({ keyDir: null, psk: null, cert: null, key: null, pin: null, ...over });

async function attempt(coreAuth: object, edgeAuth: object) {
  const core = new TunnelComponent({
    role: 'core',
    stateDir: tmp(),
    listen: '127.0.0.1:0',
    connect: null,
    auth: auth(coreAuth),
    diskMaxBytes: 0,
  });
  const cctx = fakeCtx();
  await core.start(cctx);
  const edge = new TunnelComponent({
    role: 'edge',
    stateDir: tmp(),
    listen: null,
    connect: `127.0.0.1:${core.address()!.port}`,
    auth: auth(edgeAuth),
    diskMaxBytes: 0,
    backoffMs: { initial: 50, max: 200 },
  });
  const ectx = fakeCtx();
  await edge.start(ectx);
  return { core, edge, cctx, ectx };
}

test('edge with a foreign certificate is rejected before any frame; no stream opens', async () => {
  const good = tmp('ewC-keys-');
  const other = tmp('ewC-keys-');
  generateCredentials(good);
  generateCredentials(other);
  const { core, edge, cctx } = await attempt({ keyDir: good }, { keyDir: other });
  try {
    await waitFor(() => cctx.lines.filter((l) => l.includes('rejected')).length >= 2);
    assert.equal(core.currentLink(), null);
    assert.equal(edge.currentLink(), null);
    await assert.rejects(edge.open('127.0.0.1:9'), /LINK_DOWN/);
    assert.equal(core.counters.wireRx, 0, 'the core never read a tunnel frame');
  } finally {
    await edge.stop(50);
    await core.stop(50);
  }
});

test('PSK: matching keys link up, a different key fails the handshake', async () => {
  const d = tmp('ewC-psk-');
  const k1 = join(d, 'psk1');
  const k2 = join(d, 'psk2');
  writeFileSync(k1, randomBytes(32).toString('hex'));
  writeFileSync(k2, randomBytes(32).toString('hex'));
  const ok = await attempt({ psk: k1 }, { psk: k1 });
  try {
    await waitFor(() => ok.edge.currentLink() !== null);
    await ok.edge.currentLink()!.ready$();
  } finally {
    await ok.edge.stop(50);
    await ok.core.stop(50);
  }
  const bad = await attempt({ psk: k1 }, { psk: k2 });
  try {
    await waitFor(() => bad.ectx.lines.some((l) => l.includes('retrying')));
    assert.equal(bad.core.currentLink(), null);
  } finally {
    await bad.edge.stop(50);
    await bad.core.stop(50);
  }
});

test('plain TCP garbage at the core port is dropped, the core keeps serving', async () => {
  const p = await pair();
  try {
    const s = net.connect(p.port, '127.0.0.1');
    s.on('error', () => {});
    s.write(randomBytes(4096));
    await new Promise((r) => s.on('close', r));
    assert.equal(p.core.currentLink()!.isClosed, false);
  } finally {
    await p.edge.stop(50);
    await p.core.stop(50);
  }
});

test('a stalled reader holds back only its own stream', async () => {
  const p = await pair();
  const echo = await echoServer();
  const held: net.Socket[] = [];
  const stall = net.createServer((s) => {
    s.pause();
    held.push(s);
  });
  await new Promise<void>((r) => stall.listen(0, '127.0.0.1', r));
  try {
    const a = await p.edge.open(`127.0.0.1:${(stall.address() as net.AddressInfo).port}`);
    const big = seeded(3).bytes(1 << 20);
    let written = 0;
    const pump = async () => {
      for (let i = 0; i < 64; i++) {
        written += big.length;
        if (!a.write(big)) await new Promise((r) => a.once('drain', r));
      }
    };
    void pump().catch(() => {});
    await new Promise((r) => setTimeout(r, 500));
    const d = textLike(seeded(4), 2 << 20);
    const res = await roundTrip(await p.edge.open(`127.0.0.1:${echo.port}`), d);
    assert.equal(sha(res.bytes), sha(d));
    const sent = p.core.counters.appRx; // what the core pushed towards targets
    assert.ok(sent < 2 * d.length + (24 << 20), `stalled stream kept sending: ${sent}`);
    assert.ok(written < 64 << 20, 'the writer was held back by flow control');
    a.destroy();
  } finally {
    for (const s of held) s.destroy();
    stall.close();
    echo.close();
    await p.edge.stop(50);
    await p.core.stop(50);
  }
});
