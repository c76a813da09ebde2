// Child process for proxy-linger.test.ts (not a test itself): connects to the port in argv,
// optionally gives the socket a zero linger (proxy/linger.ts) or tries to without the binding it
// needs, then either dies by SIGKILL
// mid-transfer or sends a large body after the peer half-closed and closes cleanly.
import net from 'node:net';
import { abortOnExit, lingerStatus } from '../src/proxy/linger.ts';
import { closeWhenBothEnded } from '../src/proxy/splice.ts';

const [port, mode, arm, gone] = [
  Number(process.argv[2]),
  process.argv[3],
  process.argv[4] !== 'plain',
  process.argv[4] === 'no-binding',
];
// 'no-binding': a runtime without the internal pipe_wrap binding linger.ts uses
if (gone)
  (process as unknown as { binding: () => never }).binding = () => {
    throw new Error('No such module: pipe_wrap');
  };
const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
s.on('error', (e) => {
  console.log(`child socket error ${e.message}`);
  process.exit(3);
});
s.pause(); // nothing is read (not the peer's FIN either) before the listeners below are set
s.once('connect', async () => {
  if (mode !== 'kill') {
    // 'send-after-peer-fin': the peer half-closes first; we answer with a large body and end.
    closeWhenBothEnded(s);
    s.once('end', () => {
      s.end(Buffer.alloc(32 << 20, 7));
    });
    s.once('close', () => process.exit(0));
  }
  if (gone) {
    abortOnExit(s);
    for (let i = 0; i < 200 && lingerStatus().state !== 'failed'; i++)
      await new Promise((r) => setTimeout(r, 5));
    console.log(`linger ${JSON.stringify(lingerStatus())}`);
  } else if (arm) {
    abortOnExit(s);
    for (let i = 0; i < 200 && lingerStatus().armed !== 1; i++) await new Promise((r) => setTimeout(r, 5));
    if (lingerStatus().armed !== 1) {
      console.log(`not armed: ${JSON.stringify(lingerStatus())}`);
      process.exit(2);
    }
  }
  if (mode === 'kill') {
    s.write(Buffer.alloc(100_000, 1), () => process.kill(process.pid, 'SIGKILL'));
    return;
  }
  s.resume();
});
