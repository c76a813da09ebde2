// Zero linger on local sockets (proxy/linger.ts): a process that dies mid-transfer resets its
// connections instead of ending them with a FIN, and a clean close right after our own FIN
// still delivers every queued byte to a slow reader. Real processes, loopback only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connKey, tcpEntries } from '../src/proxy/tcp-table.ts';

// import.meta.dirname is Node >= 20.11; the engine's tests also run on Node 18
const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'linger-child.ts');

/** Accept one connection from a child running `mode`; report how the connection ended on our side. */
async function run(
  mode: string,
  arm: boolean | 'no-binding',
  onConn: (s: net.Socket) => void,
): Promise<{ end: 'fin' | 'reset' | 'other'; bytes: number; code: number | null; out: string }> {
  const srv = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, String(port), mode, arm === 'no-binding' ? arm : arm ? 'arm' : 'plain'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  try {
    const r = await new Promise<{ end: 'fin' | 'reset' | 'other'; bytes: number }>((resolve) => {
      const t = setTimeout(() => resolve({ end: 'other', bytes: -1 }), 30_000);
      srv.once('connection', (s) => {
        let bytes = 0;
        let end: 'fin' | 'reset' | 'other' = 'other';
        s.on('data', (d) => {
          bytes += d.length;
        });
        // a FIN only if the kernel still lists the connection: on Node 18/20 this reader takes
        // a reset behind unread bytes for an end (proxy/end-check.ts)
        const key = connKey(s.localPort!, s.remotePort!);
        s.on('end', () => {
          end = tcpEntries([key])?.has(key) === false ? 'reset' : 'fin';
          s.end();
        });
        s.on('error', (e: NodeJS.ErrnoException) => {
          end = e.code === 'ECONNRESET' ? 'reset' : 'other';
        });
        s.on('close', () => {
          clearTimeout(t);
          resolve({ end, bytes });
        });
        onConn(s);
      });
    });
    return { ...r, code: await exited, out };
  } finally {
    child.kill('SIGKILL');
    srv.close();
  }
}

test(
  'a process killed mid-transfer resets its armed connection (and FINs an unarmed one)',
  { timeout: 60_000 },
  async () => {
    const plain = await run('kill', false, () => {});
    assert.equal(
      plain.end,
      'fin',
      `control: without the zero linger the kernel ends with a FIN (${plain.out})`,
    );
    const armed = await run('kill', true, () => {});
    assert.equal(
      armed.end,
      'reset',
      `armed: expected a reset, got ${armed.end} after ${armed.bytes} bytes (${armed.out})`,
    );
  },
);

test(
  'an armed socket closed right after its own FIN still delivers everything to a slow reader',
  { timeout: 60_000 },
  async () => {
    const r = await run('send-after-peer-fin', true, (s) => {
      s.end(); // we half-close first: the child's FIN comes last (LAST_ACK on its side)
      s.pause();
      setTimeout(() => s.resume(), 500); // a slow reader: the child's bytes queue up in its kernel
    });
    assert.equal(r.code, 0, r.out);
    assert.equal(r.end, 'fin');
    assert.equal(r.bytes, 32 << 20);
  },
);

test(
  'without the internal binding, arming reports why and changes nothing: a kill ends with FIN, a clean close delivers everything',
  { timeout: 60_000 },
  async () => {
    const killed = await run('kill', 'no-binding', () => {});
    assert.match(killed.out, /linger \{"state":"failed","failure":"No such module: pipe_wrap"/);
    assert.equal(killed.end, 'fin', `fallback: the kernel ends with a FIN as without arming (${killed.out})`);
    const r = await run('send-after-peer-fin', 'no-binding', (s) => {
      s.end();
      s.pause();
      setTimeout(() => s.resume(), 500);
    });
    assert.equal(r.code, 0, r.out);
    assert.deepEqual([r.end, r.bytes], ['fin', 32 << 20]);
  },
);
