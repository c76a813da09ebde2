// One multiplexed stream: a Duplex whose writes are chunked, deduplicated and compressed
// into DATA frames, and whose reads are reconstructed from them. Flow control is per stream
// and in delivered (decoded) bytes: the sender spends credit per chunk, the receiver returns
// credit only as its reader consumes, so a slow reader holds at most one window of memory
// and never stalls other streams. Ops after an unresolved reference wait (in order) until
// the peer answers our NEED with the literal.
import { Duplex } from 'node:stream';
import { StreamChunker } from '../codec/chunker.ts';
import { decompressBlock } from '../codec/block.ts';
import { Op, T, type DataOp } from '../codec/frame.ts';
import type { Link } from './link.ts';
import type { ReadGate } from './gate.ts';
import { noteBytes } from './gc-guard.ts';

const BATCH_BYTES = 192 * 1024; // decoded bytes per DATA frame: bounds frame size
const TAIL_FLUSH_MS = 20;

export class TunnelStream extends Duplex {
  /** Credit the peer granted us (decoded bytes we may still send). */
  sendCredit: number;
  private outQ: Uint8Array[] = [];
  private writeCb: ((err?: Error | null) => void) | null = null;
  private finalCb: ((err?: Error | null) => void) | null = null;
  private finSent = false;
  private readonly chunker: StreamChunker;
  private tailTimer: NodeJS.Timeout | null = null;
  /** Bytes written to us and not yet sent (queued or in the chunker's tail), counted in the gate. */
  private held = 0;
  // receive side
  private inQ: DataOp[] = [];
  private waiting: Uint8Array | null = null; // fp of the reference we asked for
  private resolved: Uint8Array | null = null;
  private remoteFin = false;
  private received = 0; // decoded bytes received
  private pushed = 0;
  private granted: number; // credit given to the peer so far (initial window + CREDIT frames)
  remoteReset = false;

  constructor(readonly id: number, private readonly link: Link, readonly target: string) {
    // Small high-water marks: with 1,000 streams, per-stream buffering is what RSS is made of.
    super({ allowHalfOpen: true, readableHighWaterMark: 16 * 1024, writableHighWaterMark: 16 * 1024 });
    this.sendCredit = link.peerWindow;
    this.granted = link.opts.windowBytes;
    this.chunker = new StreamChunker(link.opts.chunker);
    // Errors reach whoever pipes this stream; without one attached, a reset must not crash.
    this.on('error', () => {});
  }

  /** The process-wide admission control for local socket reads (proxy/splice.ts uses it). */
  get gate(): ReadGate { return this.link.gate; }

  // ---- send side -------------------------------------------------------------------------
  override _write(data: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.tailTimer) { clearTimeout(this.tailTimer); this.tailTimer = null; }
    this.link.counters.appTx += data.length;
    this.held += data.length; this.link.gate.hold(data.length);
    noteBytes(data.length);
    if (this.link.mode === 'raw' || this.link.mode === 'lz4') {
      for (let o = 0; o < data.length; o += 65536) this.outQ.push(data.subarray(o, Math.min(data.length, o + 65536)));
    } else {
      for (const c of this.chunker.push(data)) this.outQ.push(c);
    }
    this.writeCb = cb;
    this.link.schedule(this);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.tailTimer) { clearTimeout(this.tailTimer); this.tailTimer = null; }
    this.flushTail();
    this.finalCb = cb;
    this.link.schedule(this);
  }

  private flushTail(): void {
    const t = this.chunker.flush();
    if (t) { this.outQ.push(t); this.link.schedule(this); }
  }

  /** Something to send right now (credit and queue permitting)? */
  get sendable(): boolean {
    if (this.outQ.length > 0) return this.sendCredit >= Math.min(this.outQ[0].length, this.link.peerWindow);
    return this.finalCb !== null && !this.finSent;
  }

  /** Send one DATA batch (or the FIN); returns whether more is sendable. Called by the link. */
  sendSome(): boolean {
    if (this.destroyed) return false;
    const ops: DataOp[] = [];
    let batch = 0;
    while (this.outQ.length > 0 && batch < BATCH_BYTES) {
      let c = this.outQ[0];
      if (c.length > this.link.peerWindow) { // a peer window below our max chunk: split raw
        this.outQ[0] = c.subarray(this.link.peerWindow >>> 1); c = c.subarray(0, this.link.peerWindow >>> 1);
        this.outQ.unshift(c);
      }
      if (c.length > this.sendCredit) break;
      this.outQ.shift();
      this.sendCredit -= c.length;
      batch += c.length;
      ops.push(this.link.encodeChunk(c));
    }
    if (ops.length > 0) this.link.sendData(this.id, ops);
    // Queued chunks are views of the Buffer they were read into, which stays alive until the
    // last of them is sent: so the gate gets the bytes back only when the queue is empty
    // (what stays held is the chunker's tail, a copy of its own).
    if (this.outQ.length === 0 && this.held > this.chunker.pending) {
      const n = this.held - this.chunker.pending; this.held -= n; this.link.gate.release(n);
    }
    if (this.outQ.length === 0 && this.writeCb) {
      const cb = this.writeCb; this.writeCb = null;
      // All sent but a partial chunk: if the source stays quiet (no _write soon), send the
      // tail rather than hold it (latency). Armed only once we are idle, never while we wait
      // for credit, so bulk transfers keep purely content-defined cuts.
      if (this.chunker.pending > 0 && !this.finalCb) {
        if (this.tailTimer) clearTimeout(this.tailTimer);
        this.tailTimer = setTimeout(() => { this.tailTimer = null; this.flushTail(); }, TAIL_FLUSH_MS);
      }
      cb();
    }
    if (this.outQ.length === 0 && this.finalCb && !this.finSent && this.chunker.pending === 0) {
      this.finSent = true;
      this.link.sendFrame(T.FIN, this.id);
      const cb = this.finalCb; this.finalCb = null; cb();
      this.maybeDone();
    }
    return this.sendable;
  }

  addCredit(n: number): void { this.sendCredit += n; this.link.schedule(this); }

  // ---- receive side ----------------------------------------------------------------------
  /** DATA ops from the peer, in order. Returns an error message on a protocol violation. */
  receive(ops: DataOp[]): string | null {
    let n = 0;
    for (const o of ops) n += o.rawLen;
    this.received += n;
    if (this.received > this.granted) return `stream ${this.id} exceeded its flow-control window`;
    for (const o of ops) this.inQ.push(o);
    return this.drainIn();
  }

  remoteEnd(): void { this.remoteFin = true; this.drainIn(); }

  /** The literal we asked for arrived (already verified and stored by the link). */
  resolve(data: Uint8Array): string | null { this.resolved = data; this.waiting = null; return this.drainIn(); }

  private drainIn(): string | null {
    while (this.inQ.length > 0 && !this.waiting && !this.destroyed) {
      const o = this.inQ[0];
      let data: Uint8Array | null | undefined;
      if (o.op === Op.REF) {
        data = this.resolved ?? this.link.lookup(o.fp);
        this.resolved = null;
        if (!data) { this.waiting = o.fp; this.link.need(this, o.fp); return null; }
        if (data.length !== o.rawLen) return `reference on stream ${this.id} resolves to ${data.length} bytes, expected ${o.rawLen}`;
      } else if (o.op === Op.LZ4) {
        data = decompressBlock(o.data, o.rawLen);
        if (!data) return `malformed LZ4 block on stream ${this.id}`;
        this.link.learn(data, true); // a fresh buffer: the store keeps it rather than a copy
      } else {
        data = o.data;
        if (o.op === Op.LIT) this.link.learn(data);
      }
      this.inQ.shift();
      this.pushed += data.length;
      this.link.counters.appRx += data.length;
      this.push(data);
    }
    if (this.inQ.length === 0 && this.remoteFin && !this.readableEnded) { this.push(null); this.maybeDone(); }
    this.returnCredit();
    return null;
  }

  override _read(): void { this.returnCredit(); }

  /**
   * Keep the peer's credit topped up to the link's current window for this stream. The
   * window adapts (link.recvWindow(): the buffer budget shared by the active streams), so one
   * bulk stream can fill a long fat pipe while 1,000 streams stay within the same memory.
   */
  private returnCredit(): void {
    if (this.remoteFin || this.destroyed) return;
    const consumed = this.pushed - this.readableLength;
    const outstanding = this.granted - consumed;
    const target = this.link.recvWindow();
    const give = target - outstanding;
    // Batch small grants, but never sit on credit once the reader has taken everything:
    // the sender may be waiting for exactly that to fit its next chunk.
    if (give >= Math.max(16384, target >>> 3) || (give > 0 && this.readableLength === 0)) {
      this.granted += give;
      this.link.sendCredit(this.id, give);
    }
  }

  private maybeDone(): void {
    if (this.finSent && this.remoteFin && this.inQ.length === 0) this.link.forget(this.id);
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    if (this.tailTimer) clearTimeout(this.tailTimer);
    const clean = this.finSent && this.remoteFin && this.inQ.length === 0;
    if (!clean && !this.remoteReset) this.link.sendReset(this.id, err ? err.message : 'closed');
    this.link.forget(this.id);
    this.outQ = []; this.inQ = [];
    if (this.held > 0) { this.link.gate.release(this.held); this.held = 0; }
    if (this.writeCb) { const c = this.writeCb; this.writeCb = null; c(err ?? new Error('stream closed')); }
    cb(err);
  }
}
