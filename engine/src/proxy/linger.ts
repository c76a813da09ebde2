// Reset, not FIN, when this process dies. A local socket that carries a tunnelled stream gets
// SO_LINGER {on, 0 s}: if the engine is killed (kill -9, the OOM killer) mid-stream, the
// kernel then aborts the connection with an RST instead of closing it with a FIN that would
// make a partial transfer look complete to the client or the target.
//
// Node has no setsockopt. The one call that sets SO_LINGER 0 is uv_tcp_close_reset
// (socket.resetAndDestroy), and it closes the descriptor too. So each socket's descriptor is
// sent to ourselves over a Unix socket pair (SCM_RIGHTS, the way child_process passes
// handles), and the duplicate that arrives is reset: the option belongs to the socket, the
// close only drops the duplicate. This uses Node's pipe_wrap/stream_wrap bindings (what
// child_process uses internally); if any of it is missing, arming is off and logged once.
//
// A clean close must not lose data to the zero linger. When the local peer half-closed first,
// our close comes right after our FIN (TCP LAST_ACK) and bytes may still sit in the kernel's
// send queue, which an abortive close would drop: such a socket's close is deferred
// (holdClose) until /proc/net/tcp shows its queue empty, at most HOLD_MAX_MS.
import net from 'node:net';
import { connKey, tcpEntries } from './tcp-table.ts';

type Handle = { reset?(cb: () => void): number; close?(cb?: () => void): void; fd?: number };
interface IpcPipe {
  open(fd: number): number;
  readStart(): number;
  writeUtf8String(req: unknown, s: string, h: unknown): number;
  onread: ((...a: unknown[]) => void) | null;
  pendingHandle?: Handle | null;
  unref?(): void;
  connect(req: unknown, path: string): number;
}

const HOLD_MAX_MS = 30_000;
const HOLD_POLL_MS = 50;
/** Duplicates in flight beyond this: they are not coming back (a runtime that differs); stop. */
const MAX_IN_FLIGHT = 4096;

let state: 'off' | 'starting' | 'on' | 'failed' = 'off';
let tx: IpcPipe | null = null;
let WriteWrapCtor: (new () => { oncomplete?: (st: number) => void; async?: boolean }) | null = null;
/** Sockets whose duplicate is in flight, in send order (the pair delivers in order). */
const inFlight: net.Socket[] = [];
const waiting: net.Socket[] = [];
let failure: string | null = null;
export const lingerStats = { armed: 0, failed: 0, held: 0 };
/** The pair's handles, referenced for the life of the process. */
let keep: unknown[] = [];

/** For /status: whether arming works, why not, and the counts. */
export function lingerStatus(): Record<string, unknown> {
  return {
    state,
    failure,
    ...lingerStats,
    inFlight: inFlight.length,
    holding: holds.size,
    pairOpen: keep.length > 0,
  };
}

function fail(why: string): void {
  state = 'failed';
  failure = why;
  lingerStats.failed += waiting.length + inFlight.length;
  waiting.length = 0;
  inFlight.length = 0;
}

async function start(): Promise<void> {
  state = 'starting';
  const srv = net.createServer({ pauseOnConnect: true });
  srv.on('error', () => {});
  try {
    const pb = (process as unknown as { binding(n: string): Record<string, unknown> }).binding;
    const { Pipe, constants, PipeConnectWrap } = pb('pipe_wrap') as {
      Pipe: new (t: number) => IpcPipe;
      constants: { IPC: number };
      PipeConnectWrap: new () => { oncomplete?: (st: number) => void };
    };
    WriteWrapCtor = (pb('stream_wrap') as { WriteWrap: typeof WriteWrapCtor }).WriteWrap;
    const path = `\0edgewan-linger-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await new Promise<void>((res, rej) => {
      srv.once('error', rej);
      srv.listen(path, () => res());
    });
    const accepted = new Promise<net.Socket>((res) => srv.once('connection', res));
    const client = new Pipe(constants.IPC);
    await new Promise<void>((res, rej) => {
      const req = new PipeConnectWrap();
      req.oncomplete = (st: number) => (st < 0 ? rej(new Error(`connect: ${st}`)) : res());
      const e = client.connect(req, path);
      if (e) rej(new Error(`connect: ${e}`));
    });
    const sock = await accepted;
    sock.on('error', () => {}); // it never reads or writes; an error must not be unhandled
    sock.unref();
    const fd = (sock as unknown as { _handle?: Handle })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) throw new Error('no descriptor for the receiving end');
    // The receiving end: an IPC pipe over the accepted socket's descriptor (that socket
    // itself never reads; it only keeps the descriptor open).
    const rx = new Pipe(constants.IPC);
    if (rx.open(fd) !== 0) throw new Error('cannot open the receiving end');
    rx.onread = () => {
      const h = rx.pendingHandle;
      rx.pendingHandle = null;
      if (!h) return;
      const s = inFlight.shift();
      // Closed meanwhile: its own close already happened, so dropping the duplicate now is
      // an ordinary close (no reset for a socket that finished).
      if (!s || s.destroyed) {
        h.close?.();
        return;
      }
      if (typeof h.reset !== 'function' || h.reset(() => {}) !== 0) {
        h.close?.();
        lingerStats.failed++;
        return;
      }
      lingerStats.armed++;
    };
    if (rx.readStart() !== 0) throw new Error('cannot read the receiving end');
    rx.unref?.();
    client.unref?.();
    keep = [sock, rx, client];
    tx = client;
    state = 'on';
    for (const s of waiting.splice(0)) send(s);
  } catch (e) {
    fail((e as Error).message);
  } finally {
    srv.close();
  }
}

function send(s: net.Socket): void {
  const h = (s as unknown as { _handle?: Handle })._handle;
  if (!tx || !WriteWrapCtor || !h || s.destroyed) return;
  const req = new WriteWrapCtor();
  req.oncomplete = () => {};
  req.async = false;
  if (inFlight.length >= MAX_IN_FLIGHT) {
    fail(`${inFlight.length} descriptor duplicates never came back`);
    return;
  }
  inFlight.push(s);
  if (tx.writeUtf8String(req, 'x', h) !== 0) {
    inFlight.pop();
    lingerStats.failed++;
  }
}

const armedOnce = new WeakSet<net.Socket>();

/** Give this connected TCP socket a zero linger (asynchronously, a turn of the event loop). Idempotent. */
export function abortOnExit(s: net.Socket): void {
  if (process.platform !== 'linux' || state === 'failed' || armedOnce.has(s)) return;
  armedOnce.add(s);
  if (state === 'on') {
    send(s);
    return;
  }
  waiting.push(s);
  if (state === 'off') void start();
}

// ---- deferred clean close ------------------------------------------------------------------
/** Held sockets, by their key in the kernel's TCP table (proxy/tcp-table.ts). */
const holds = new Map<net.Socket, { key: number; until: number }>();
let holdTimer: NodeJS.Timeout | null = null;

function pollHolds(): void {
  holdTimer = null;
  const table = tcpEntries([...holds.values()].map((h) => h.key));
  const now = Date.now();
  for (const [s, h] of holds) {
    // ≤ 1: only our FIN is unacknowledged (it counts one); every data byte arrived. A
    // connection no longer listed is closed: everything arrived.
    if ((table?.get(h.key)?.txQueue ?? 0) <= 1 || now >= h.until || s.destroyed) {
      holds.delete(s);
      s.destroy();
    }
  }
  // not unref'd: a held socket does nothing the event loop counts, and the process must not
  // exit (closing it abortively) before the bytes are delivered; bounded by HOLD_MAX_MS
  if (holds.size > 0) holdTimer = setTimeout(pollHolds, HOLD_POLL_MS);
}

/**
 * Close a socket whose both directions ended cleanly. If our FIN was the last one (the peer
 * had half-closed first), wait until the kernel has delivered our queued bytes, so the zero
 * linger cannot turn their delivery into a reset.
 */
export function closeWhenDelivered(s: net.Socket, ourFinLast: boolean): void {
  if (!ourFinLast || state !== 'on' || process.platform !== 'linux') {
    s.destroy();
    return;
  }
  lingerStats.held++;
  holds.set(s, { key: connKey(s.localPort ?? 0, s.remotePort ?? 0), until: Date.now() + HOLD_MAX_MS });
  if (!holdTimer) holdTimer = setTimeout(pollHolds, 0);
}
