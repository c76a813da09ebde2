// A stream that cannot be completed is reset at both local ends, never ended: here a frame
// the core cannot decode (a malformed LZ4 block) in the middle of a transfer. The client and
// the target are real TCP sockets spliced to the tunnel (proxy/splice.ts), on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { pair, waitFor } from './tunnel-helpers.ts';
import { splice } from '../src/proxy/splice.ts';
import { Op } from '../src/codec/frame.ts';
import type { TunnelStream } from '../src/tunnel/stream.ts';

interface End { how: 'fin' | 'reset' | 'other' | null; bytes: number }
function watch(s: net.Socket, e: End): void {
  s.on('data', (d: Buffer) => { e.bytes += d.length; });
  s.on('end', () => { e.how ??= 'fin'; });
  s.on('error', (err: NodeJS.ErrnoException) => { e.how ??= err.code === 'ECONNRESET' ? 'reset' : 'other'; });
}

test('a frame that does not decode mid-transfer: client and target are reset, neither sees a clean end', async () => {
  const { core, edge } = await pair();
  const target: End = { how: null, bytes: 0 }; const client: End = { how: null, bytes: 0 };
  const tsrv = net.createServer({ allowHalfOpen: true }, (s) => watch(s, target));
  await new Promise<void>((r) => tsrv.listen(0, '127.0.0.1', r));
  let stream: TunnelStream | null = null;
  const front = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (sock) => {
    void edge.open(`127.0.0.1:${(tsrv.address() as net.AddressInfo).port}`).then((s) => { stream = s; splice(sock, s); });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const c = net.connect({ port: (front.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  watch(c, client);
  try {
    c.write(randomBytes(256 << 10));
    await waitFor(() => target.bytes >= 256 << 10);
    // the edge's side of the link sends a block the core's LZ4 decoder rejects
    edge.currentLink()!.sendData(stream!.id, [{ op: Op.LZ4, rawLen: 4096, data: Buffer.from([0xf0, 0xff, 0xff, 0xff]) }]);
    await waitFor(() => target.how !== null && client.how !== null);
    assert.deepEqual({ target: target.how, client: client.how }, { target: 'reset', client: 'reset' });
  } finally {
    c.destroy(); front.close(); tsrv.close();
    await edge.stop(100); await core.stop(100);
  }
});
