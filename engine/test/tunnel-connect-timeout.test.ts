// An edge's dial to a core is bounded (tunnel.connectTimeoutS): a core that never completes
// the TLS handshake is given up with EDGEWAN_ERR_TUNNEL_CONNECT_TIMEOUT and the next core of
// tunnel.connect is tried. Loopback only: the silent "core" is a TCP server on 127.0.0.1 that
// accepts and never answers, the case without a bound waits forever (a core that drops SYNs,
// which loopback cannot show, hits the same timer before the TCP connect).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { generateCredentials } from '../src/tunnel/credentials.ts';
import { TunnelComponent } from '../src/tunnel/component.ts';
import { fakeCtx, peerOptions, startCore, tmp, waitFor } from './tunnel-helpers.ts';

test('tunnel connect timeout: a core that never answers TLS is left after connectTimeoutMs for the next one', async () => {
  const keys = tmp('ewC-keys-');
  generateCredentials(keys);
  const held = new Set<net.Socket>();
  const silent = net.createServer((s) => {
    held.add(s);
    s.resume(); // reads (and drops) the ClientHello, never answers; sees the edge's close
    s.on('close', () => held.delete(s));
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const core = await startCore(keys);
  const ectx = fakeCtx();
  const silentAddr = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  const edge = new TunnelComponent({
    role: 'edge',
    stateDir: tmp(),
    listen: null,
    connect: [silentAddr, `127.0.0.1:${core.address()!.port}`],
    connectTimeoutMs: 300,
    ...peerOptions(keys),
  });
  try {
    const t0 = Date.now();
    await edge.start(ectx);
    await waitFor(() => held.size === 1, 3000);
    await waitFor(() => edge.currentLink() !== null, 3000);
    const ms = Date.now() - t0;
    assert.ok(ms >= 250, `linked after ${ms} ms: not before the timeout`);
    await waitFor(() => held.size === 0, 3000); // the dial to the silent core was closed
    const line = ectx.lines.find((l) => l.includes('tunnel connect failed'));
    assert.ok(line, 'the failed dial is logged');
    assert.match(
      line,
      /EDGEWAN_ERR_TUNNEL_CONNECT_TIMEOUT: no TLS handshake with core 127\.0\.0\.1:\d+ within 300 ms/,
    );
    assert.match(line, new RegExp(`"core":"${silentAddr}"`));
    assert.equal((edge.status() as { coreSwitches: number }).coreSwitches, 1);
  } finally {
    await edge.stop(0);
    await core.stop(0);
    for (const s of held) s.destroy();
    silent.close();
  }
});
