// Join a local TCP socket and a tunnel stream in both directions with backpressure.
// A clean end travels as FIN; a failure on either side resets the other (TCP RST towards
// the local client), so a transfer cut short never looks complete. The local socket also
// gets a zero linger (proxy/linger.ts), so the kernel resets it should this process die.
// Reading the local socket is admission-controlled (tunnel/gate.ts): it reads only while the
// process-wide ReadGate grants it a slot, one read at a time, and stops at once after each
// read (no read-ahead into its own buffer), so 1,000 busy connections cannot each park
// 64–128 KiB of Buffers outside the V8 heap.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { GateReader, ReadGate } from '../tunnel/gate.ts';
import { abortOnExit, closeWhenDelivered } from './linger.ts';
import { confirmEnd, startEndCheck } from './end-check.ts';
import { connKey } from './tcp-table.ts';

export function resetSocket(sock: Socket): void {
  // resetAndDestroy (Node ≥ 18.3) sends RST instead of FIN. Not while our shutdown is in
  // flight (ended with nothing left to write): libuv refuses to reset a handle that is
  // shutting down, and Node would leave it open. Then every byte is in the kernel and a plain
  // close delivers them before its FIN (with the zero linger, proxy/linger.ts, it resets).
  // Ended with bytes still buffered in Node is no such case: a plain close would drop them
  // and then send a FIN, a clean end after a partial transfer.
  if (sock.destroyed || (sock.writableEnded && sock.writableLength === 0)) {
    sock.destroy();
    return;
  }
  const s = sock as Socket & { resetAndDestroy?: () => void };
  if (typeof s.resetAndDestroy === 'function' && (sock as { _handle?: unknown })._handle) s.resetAndDestroy();
  else sock.destroy();
}

/**
 * Stop reading now. pause() alone leaves libuv reading: Node stops only once its own buffer
 * passes the high-water mark, i.e. after one more 64 KiB read. readStop() on the handle is
 * what Node itself does at that point (stream_base_commons onStreamRead), and Socket._read
 * starts it again on resume().
 */
type Handle = { reading?: boolean; readStop?: () => number; readStart?: () => number } | null | undefined;
const handleOf = (sock: Socket): Handle => (sock as unknown as { _handle?: Handle })._handle;

export function stopReading(sock: Socket): void {
  sock.pause();
  const h = handleOf(sock);
  if (h && h.reading && typeof h.readStop === 'function') {
    h.reading = false;
    h.readStop();
  }
}

/**
 * Read again. resume() alone is not enough: when the read was stopped while Readable's own
 * `reading` flag was up (a read requested, nothing arrived yet), Readable never calls _read
 * again (seen: streams stuck with the handle stopped). So the handle is started directly too.
 */
export function startReading(sock: Socket): void {
  sock.resume();
  const h = handleOf(sock);
  if (h && !h.reading && typeof h.readStart === 'function' && !sock.connecting) {
    h.reading = true;
    h.readStart();
  }
}

/** Feed sock → stream one read at a time, while the gate allows; `onEnd` on the socket's end. */
function gatedPipe(sock: Socket, stream: Duplex, gate: ReadGate, onEnd: () => void): void {
  let done = false;
  let armed = false;
  // Readable restarts a stopped handle by itself: after every 'data' it schedules
  // maybeReadMore, which calls _read (Socket._read: readStart) whenever its buffer is below
  // the high-water mark, paused or not. That read then lands in the socket's own buffer, one
  // 64 KiB read per connection outside the gate (measured: 272 sockets holding 17.8 MB in
  // an edge heap snapshot during the 1,000-stream bench). So _read starts the handle only
  // while the gate has armed this reader.
  const sockRead = sock._read;
  sock._read = function gatedRead(this: Socket, n: number) {
    if (armed) sockRead.call(this, n);
  };
  const reader: GateReader = {
    arm: () => {
      if (!done) {
        armed = true;
        startReading(sock);
      }
    },
    disarm: () => {
      armed = false;
      stopReading(sock);
    },
  };
  const finish = () => {
    if (!done) {
      done = true;
      gate.cancel(reader);
    }
  };
  stopReading(sock);
  sock.on('data', (d: Buffer) => {
    armed = false;
    stopReading(sock);
    if (stream.destroyed) return;
    const more = stream.write(d); // the stream counts the bytes in the gate until it sent them
    gate.took(reader);
    if (more) gate.request(reader);
    else
      stream.once('drain', () => {
        if (!done) gate.request(reader);
      });
  });
  sock.once('end', () => {
    finish();
    onEnd();
  });
  sock.once('close', finish);
  stream.once('close', finish);
  gate.request(reader);
}

/**
 * Both directions of the local socket ended cleanly: close it ourselves (not Node's automatic
 * destroy), so a close right after our own FIN can wait for delivery (proxy/linger.ts).
 */
export function closeWhenBothEnded(sock: Socket): void {
  const st = sock as unknown as {
    _readableState?: { autoDestroy: boolean };
    _writableState?: { autoDestroy: boolean };
  };
  if (!st._readableState || !st._writableState) return;
  st._readableState.autoDestroy = false;
  st._writableState.autoDestroy = false;
  let ended = false;
  let finished = false;
  const both = (ourFinLast: boolean) => {
    if (ended && finished && !sock.destroyed) closeWhenDelivered(sock, ourFinLast);
  };
  sock.once('end', () => {
    ended = true;
    both(false);
  });
  sock.once('finish', () => {
    finished = true;
    both(true);
  });
}

export function splice(sock: Socket, stream: Duplex, onClose?: () => void): void {
  // If this process dies mid-stream, the kernel must reset the local connection, not FIN it.
  abortOnExit(sock);
  closeWhenBothEnded(sock);
  let done = false;
  const finish = () => {
    if (!done) {
      done = true;
      onClose?.();
    }
  };
  // The local end travels as FIN only once it is known to be one (proxy/end-check.ts).
  startEndCheck();
  const key = connKey(sock.localPort ?? 0, sock.remotePort ?? 0);
  const onEnd = () =>
    confirmEnd(
      key,
      () => {
        if (!stream.destroyed) stream.end();
      },
      () => stream.destroy(new Error('EDGEWAN_ERR_TUNNEL_LOCAL_RESET: the local connection was reset')),
    );
  const gate = (stream as Duplex & { gate?: ReadGate }).gate;
  if (gate) gatedPipe(sock, stream, gate, onEnd);
  else {
    sock.pipe(stream, { end: false });
    sock.once('end', onEnd);
    sock.resume();
  }
  stream.pipe(sock);
  sock.on('error', (e) => {
    stream.destroy(e);
  });
  stream.on('error', () => {
    resetSocket(sock);
  });
  // The local side closed: anything the peer still sends cannot be delivered, so reset.
  sock.on('close', (hadError) => {
    if (hadError || !stream.readableEnded)
      stream.destroy(new Error('EDGEWAN_ERR_TUNNEL_LOCAL_CLOSED: local connection closed'));
    finish();
  });
  stream.on('close', () => {
    if (!sock.destroyed && !(stream.readableEnded && stream.writableFinished)) resetSocket(sock);
    finish();
  });
}
