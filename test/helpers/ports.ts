// A loopback port free for both UDP and TCP a moment ago: DNS servers (ours, dnsmasq) bind
// both, and loopback TCP is busy with other tests, so a UDP port 0 alone can collide on TCP.
import dgram from 'node:dgram';
import net from 'node:net';

export async function freeUdpTcpPort(): Promise<number> {
  for (;;) {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const p = s.address().port;
    const tcp = net.createServer();
    const ok = await new Promise<boolean>((r) => {
      tcp.once('error', () => r(false));
      tcp.listen(p, '127.0.0.1', () => r(true));
    });
    if (ok) await new Promise<void>((r) => tcp.close(() => r()));
    await new Promise<void>((r) => s.close(() => r()));
    if (ok) return p;
  }
}
