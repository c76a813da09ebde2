// SOCKS5 server side of RFC 1928: method negotiation ("no authentication", or RFC 1929
// username/password when offered: the username names the edge on a fleet core, the password
// is ignored — the proxy's listen address is what limits who may use it), then one
// CONNECT request with an IPv4, IPv6 or domain-name target. Input is bounded (a request is
// at most 262 bytes) and a malformed or unsupported request gets the RFC's error reply.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { joinHostPort } from '../net/hostport.ts';

const REP = { ok: 0, fail: 1, netUnreachable: 3, refused: 5, badCmd: 7, badAtyp: 8 } as const;

/** A client that has not finished the handshake after this long is dropped (it holds a socket). */
export const SOCKS_HANDSHAKE_MS = { value: 10_000 };

function reply(sock: Socket, code: number): void {
  sock.write(Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]));
}

/** Read exactly n more bytes (bounded), or fail when the client goes away. */
function reader(sock: Socket) {
  let buf = Buffer.alloc(0);
  let waiting: (() => void) | null = null;
  let ended = false;
  const onData = (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (buf.length > 4096) sock.destroy();
    waiting?.();
  };
  const onEnd = () => {
    ended = true;
    waiting?.();
  };
  sock.on('data', onData);
  sock.on('end', onEnd);
  sock.on('close', onEnd);
  const timer = setTimeout(() => sock.destroy(), SOCKS_HANDSHAKE_MS.value);
  return {
    async take(n: number): Promise<Buffer> {
      while (buf.length < n) {
        if (ended) throw new Error('EDGEWAN_ERR_PROXY_SOCKS: client went away during the handshake');
        await new Promise<void>((r) => {
          waiting = r;
        });
        waiting = null;
      }
      const out = buf.subarray(0, n);
      buf = buf.subarray(n);
      return out;
    },
    /** Stop reading; returns bytes the client already sent past the handshake. */
    release(): Buffer {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('close', onEnd);
      sock.pause();
      return buf;
    },
  };
}

export async function socksHandshake(
  sock: Socket,
  open: (target: string, user?: string) => Promise<Duplex>,
  connected: (s: Duplex, rest: Buffer) => void,
): Promise<void> {
  const r = reader(sock);
  try {
    await negotiate(sock, r, open, connected);
  } catch (e) {
    r.release();
    throw e;
  }
}

async function negotiate(
  sock: Socket,
  r: ReturnType<typeof reader>,
  open: (target: string, user?: string) => Promise<Duplex>,
  connected: (s: Duplex, rest: Buffer) => void,
): Promise<void> {
  const [ver, n] = await r.take(2);
  if (ver !== 5) throw new Error(`EDGEWAN_ERR_PROXY_SOCKS: not SOCKS5 (version byte ${ver})`);
  const methods = await r.take(n);
  let user: string | undefined;
  if (methods.includes(2)) {
    sock.write(Buffer.from([5, 2]));
    const [av, ulen] = await r.take(2);
    user = (await r.take(ulen)).toString('utf8');
    const [plen] = await r.take(1);
    await r.take(plen);
    if (av !== 1) {
      sock.end(Buffer.from([1, 1]));
      throw new Error(`EDGEWAN_ERR_PROXY_SOCKS: bad username/password version ${av}`);
    }
    sock.write(Buffer.from([1, 0]));
  } else if (!methods.includes(0)) {
    sock.end(Buffer.from([5, 0xff]));
    throw new Error(
      'EDGEWAN_ERR_PROXY_SOCKS: client offers neither "no authentication" nor username/password',
    );
  } else sock.write(Buffer.from([5, 0]));
  const [v2, cmd, , atyp] = await r.take(4);
  if (v2 !== 5 || cmd !== 1) {
    reply(sock, REP.badCmd);
    sock.end();
    throw new Error(`EDGEWAN_ERR_PROXY_SOCKS: only CONNECT is supported (got command ${cmd})`);
  }
  let host: string;
  if (atyp === 1) host = [...(await r.take(4))].join('.');
  else if (atyp === 4) {
    const b = await r.take(16);
    host = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':');
  } else if (atyp === 3) {
    const [len] = await r.take(1);
    host = (await r.take(len)).toString('latin1');
  } else {
    reply(sock, REP.badAtyp);
    sock.end();
    throw new Error(`EDGEWAN_ERR_PROXY_SOCKS: address type ${atyp} unsupported`);
  }
  const port = (await r.take(2)).readUInt16BE(0);
  if (!host || port === 0 || !/^[A-Za-z0-9.:_-]+$/.test(host)) {
    reply(sock, REP.fail);
    sock.end();
    throw new Error('EDGEWAN_ERR_PROXY_SOCKS: bad target');
  }
  let stream: Duplex;
  try {
    stream = await open(joinHostPort(host, port), user);
  } catch (e) {
    const m = (e as Error).message;
    reply(sock, /OPEN/.test(m) ? REP.refused : /EDGE_(DOWN|UNNAMED)/.test(m) ? REP.netUnreachable : REP.fail);
    sock.end();
    throw e;
  }
  const rest = r.release();
  reply(sock, REP.ok);
  connected(stream, rest); // splice() starts reading again, when the read gate allows
}
