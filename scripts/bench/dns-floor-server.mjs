// The floor for bench:dns: the least a Node UDP server can do per DNS query — receive a
// datagram, append one A record to it, send it back — with no parsing, cache or counters.
// Plain JavaScript, run on the same Node version as the x64 executable (the bench passes its
// path), with T threads on one port (reusePort) like dns.workers. What this reaches is what
// Node's dgram allows on the machine; ours can only approach it from below.
//   node dns-floor-server.mjs PORT THREADS
import dgram from 'node:dgram';
import { Worker, isMainThread, workerData } from 'node:worker_threads';

const [port, threads] = isMainThread ? [Number(process.argv[2]), Number(process.argv[3] ?? 1)] : workerData;
// NAME pointer to the question, A IN, TTL 3600, 10.0.0.1
const rr = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 10, 0, 0, 1]);
const s = dgram.createSocket({ type: 'udp4', reusePort: threads > 1, lookup: (a, _o, cb) => cb(null, a, 4) });
s.on('message', (m, r) => {
  const out = Buffer.allocUnsafe(m.length + rr.length);
  out.set(m, 0);
  out.set(rr, m.length);
  out[2] = 0x81;
  out[3] = 0x80;
  out[6] = 0;
  out[7] = 1; // QR RD RA, ANCOUNT 1
  s.send(out, r.port, r.address);
});
s.bind(port, '127.0.0.1', () => {
  if (!isMainThread) return;
  for (let i = 1; i < threads; i++) new Worker(new URL(import.meta.url), { workerData: [port, threads] });
});
