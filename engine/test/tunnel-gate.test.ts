// The read gate (tunnel/gate.ts): local sockets read only while held bytes plus armed reads fit
// the budget, waiting readers are admitted in order as bytes are released, an idle armed
// reader gives its slot up when others wait, and through a real forward a stalled target
// does not hold up other connections (the gate must not turn one slow reader into a stall),
// and a socket whose reader is not armed reads nothing more (no read-ahead into its buffer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ReadGate, READ_MAX, type GateReader } from '../src/tunnel/gate.ts';
import { ForwardsComponent } from '../src/proxy/listeners.ts';
import { splice } from '../src/proxy/splice.ts';
import { Duplex } from 'node:stream';
import { pair, fakeCtx, waitFor, sha } from './tunnel-helpers.ts';

function reader(log: string[], name: string): GateReader & { armed: boolean } {
  const r = {
    armed: false,
    arm() {
      r.armed = true;
      log.push(`arm ${name}`);
    },
    disarm() {
      r.armed = false;
      log.push(`disarm ${name}`);
    },
  };
  return r;
}

test('read gate: budget bounds armed reads plus held bytes; FIFO admission on release', () => {
  const g = new ReadGate(3 * READ_MAX);
  const log: string[] = [];
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => reader(log, n));
  for (const r of [a, b, c, d]) g.request(r);
  assert.deepEqual(log, ['arm a', 'arm b', 'arm c']); // the fourth would exceed 3 reads
  assert.equal(g.waitingCount, 1);
  // a's read arrives: its slot is free but its bytes are held, so d still waits
  g.hold(READ_MAX);
  g.took(a);
  assert.equal(d.armed, false);
  g.release(READ_MAX); // a's stream sent them
  assert.equal(d.armed, true);
  assert.equal(g.armedCount, 3);
  for (const r of [b, c, d]) g.cancel(r);
  assert.equal(g.armedCount, 0);
  // a budget below one read still lets one reader through when nothing is held
  const small = new ReadGate(1000);
  const e = reader(log, 'e');
  const f = reader(log, 'f');
  small.request(e);
  small.request(f);
  assert.equal(e.armed, true);
  assert.equal(f.armed, false);
  small.hold(500);
  small.took(e);
  assert.equal(f.armed, false, 'held bytes block the next read');
  small.release(500);
  assert.equal(f.armed, true);
  small.cancel(f);
});

test('read gate: an idle armed reader yields its slot to a waiting one', async () => {
  const g = new ReadGate(READ_MAX);
  const log: string[] = [];
  const idle = reader(log, 'idle');
  const busy = reader(log, 'busy');
  g.request(idle);
  g.request(busy);
  assert.equal(busy.armed, false);
  await waitFor(() => busy.armed, 5000);
  assert.equal(idle.armed, false);
  assert.ok(log.includes('disarm idle'));
  g.cancel(idle);
  g.cancel(busy);
});

test('through a forward, a target that never reads does not stall another connection', async () => {
  const { core, edge } = await pair();
  // one target that accepts and never reads, one that echoes
  const held = new Set<net.Socket>();
  const stall = net.createServer((s) => {
    held.add(s);
    s.pause();
    s.on('error', () => {});
  });
  const echo = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await Promise.all([stall, echo].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  const port = (s: net.Server) => (s.address() as net.AddressInfo).port;
  const fwd = new ForwardsComponent('edge', [
    { listen: '127.0.0.1:0', target: `127.0.0.1:${port(stall)}`, direction: 'edge-to-core' },
    { listen: '127.0.0.1:0', target: `127.0.0.1:${port(echo)}`, direction: 'edge-to-core' },
  ]);
  await fwd.start(fakeCtx());
  const [toStall, toEcho] = fwd.addresses().map((a) => a.port);
  const slow = net.connect(toStall, '127.0.0.1');
  slow.on('error', () => {});
  try {
    // push far more than the windows and socket buffers can absorb into the stalled one
    const big = Buffer.alloc(16 << 20, 7);
    slow.write(big);
    await waitFor(() => edge.counters.appTx > 1 << 20, 20000);
    const data = Buffer.from('x'.repeat(300_000));
    const got = await new Promise<Buffer>((resolve) => {
      const s = net.connect(toEcho, '127.0.0.1');
      const parts: Buffer[] = [];
      s.on('data', (d) => parts.push(d));
      s.on('close', () => resolve(Buffer.concat(parts)));
      s.on('error', () => {});
      s.setTimeout(30_000, () => s.destroy());
      s.end(data);
    });
    assert.equal(sha(got), sha(data));
  } finally {
    slow.destroy();
    for (const s of held) s.destroy();
    await fwd.stop(100);
    stall.close();
    echo.close();
    await edge.stop(100);
    await core.stop(100);
  }
});

test('a gated socket reads nothing while its reader is not armed (no read-ahead into its own buffer)', async () => {
  // A stream that takes one write and never calls back: its reader is never armed again.
  const writes: number[] = [];
  const gate = new ReadGate(8 * READ_MAX);
  const sink = new Duplex({
    writableHighWaterMark: 1,
    read() {},
    write(c: Buffer) {
      writes.push(c.length);
    },
  });
  Object.defineProperty(sink, 'gate', { value: gate });
  let local: net.Socket | null = null;
  const srv = net.createServer({ pauseOnConnect: true }, (sock) => {
    local = sock;
    sock.on('error', () => {});
    splice(sock, sink);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const c = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  c.on('error', () => {});
  try {
    c.write(Buffer.alloc(4 << 20, 1)); // far more than one read
    await waitFor(() => writes.length > 0, 10000);
    // Node's Readable schedules maybeReadMore after every 'data' event, which used to restart
    // the stopped handle: one more 64 KiB read parked in the socket's own buffer.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 50));
    const sock = local as unknown as net.Socket;
    assert.equal(writes.length, 1);
    assert.equal(sock.readableLength, 0, 'nothing buffered in the socket');
    assert.equal(sock.bytesRead, writes[0], 'only the one read the gate allowed');
  } finally {
    c.destroy();
    srv.close();
  }
});
