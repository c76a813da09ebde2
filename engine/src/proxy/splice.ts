// Join a local TCP socket and a tunnel stream in both directions with backpressure.
// A clean end travels as FIN; a failure on either side resets the other (TCP RST towards
// the local client), so a transfer cut short never looks complete.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export function resetSocket(sock: Socket): void {
  // resetAndDestroy (Node ≥ 18.3) sends RST instead of FIN.
  // Not after our own FIN: a reset racing the pending shutdown can leave the handle open.
  if (sock.writableEnded || sock.destroyed) { sock.destroy(); return; }
  const s = sock as Socket & { resetAndDestroy?: () => void };
  if (typeof s.resetAndDestroy === 'function' && !sock.destroyed && (sock as { _handle?: unknown })._handle) s.resetAndDestroy();
  else sock.destroy();
}

export function splice(sock: Socket, stream: Duplex, onClose?: () => void): void {
  let done = false;
  const finish = () => { if (!done) { done = true; onClose?.(); } };
  sock.pipe(stream);
  stream.pipe(sock);
  sock.on('error', (e) => { stream.destroy(e); });
  stream.on('error', () => { resetSocket(sock); });
  // The local side closed: anything the peer still sends cannot be delivered, so reset.
  sock.on('close', (hadError) => { if (hadError || !stream.readableEnded) stream.destroy(new Error('EDGEWAN_ERR_TUNNEL_LOCAL_CLOSED: local connection closed')); finish(); });
  stream.on('close', () => { if (!sock.destroyed && !(stream.readableEnded && stream.writableFinished)) resetSocket(sock); finish(); });
}
