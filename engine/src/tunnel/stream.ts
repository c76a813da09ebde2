// One multiplexed stream: a Duplex whose writes are chunked, deduplicated and compressed
// into DATA frames, and whose reads are reconstructed from them. Flow control is per stream
// and in delivered (decoded) bytes: the sender spends credit per chunk, the receiver returns
// credit only as its reader consumes, so a slow reader holds at most one window of memory
// and never stalls other streams. Ops after an unresolved reference wait (in order) until
// the peer answers our NEED with the literal.
import { Duplex } from 'node:stream';
import { StreamChunker } from '../codec/chunker.ts';
import { decompressBlock } from '../codec/block.ts';
import {
  buildDict,
  inflateWithDict,
  unzstdWithDict,
  SendHistory,
  ZSTD_WINDOW,
  ZSTD_MAX_DICT,
} from '../codec/dict.ts';
import { fingerprint, fpKey } from '../codec/fingerprint.ts';
import { Op, T, DZ_MAX_DICT, type DataOp } from '../codec/frame.ts';
import { SpanBuilder, manifestFps } from '../codec/manifest.ts';
import { RunCursor } from '../codec/runs.ts';
import type { Link } from './link.ts';
import type { ReadGate } from './gate.ts';
import { noteBytes } from './gc-guard.ts';
import type { EngineErrorCode } from '../errors.ts';

const BATCH_BYTES = 192 * 1024; // decoded bytes per DATA frame: bounds frame size
const TAIL_FLUSH_MS = 20;

/** A stream reset for bad input on that stream only: the link stays up. `code` is typed. */
export class TunnelStreamError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

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
  private waiting: Uint8Array | null = null; // fp of the reference (or dictionary chunk) we asked for
  /** Chunks that arrived for the op at the head of inQ after a NEED (by fingerprint key). */
  private got = new Map<string, Uint8Array>();
  /** Send side: the stream's last chunks, dictionary candidates (the link's codec window). */
  readonly txHist = new SendHistory(ZSTD_MAX_DICT);
  /** Send side: spans of this stream's chunks (manifests), and the REFs of an all-reference span held back. */
  readonly txSpan = new SpanBuilder();
  heldRefs: DataOp[] = [];
  spanAllRef = true;
  /** Send side: the manifest range being built (REFN, codec/runs.ts). */
  readonly txRuns = new RunCursor();
  /** Receive side: spans of the chunks delivered, so a repeat can arrive as REFM. */
  private readonly rxSpan = new SpanBuilder();
  /** Receive side: the REFN op at the head of inQ, expanded one chunk at a time. */
  private range: { fps: Uint8Array[]; next: number; bytes: number } | null = null;
  /** A REFN expansion stopped because the reader's buffer is full; _read() resumes it. */
  private rangePaused = false;
  private readWanted = false;
  private remoteFin = false;
  private received = 0; // decoded bytes received
  private pushed = 0;
  private granted: number; // credit given to the peer so far (initial window + CREDIT frames)
  remoteReset = false;

  constructor(
    readonly id: number,
    private readonly link: Link,
    readonly target: string,
  ) {
    // Small high-water marks: with 1,000 streams, per-stream buffering is what RSS is made of.
    super({ allowHalfOpen: true, readableHighWaterMark: 16 * 1024, writableHighWaterMark: 16 * 1024 });
    this.sendCredit = link.peerWindow;
    this.granted = link.opts.windowBytes;
    this.chunker = new StreamChunker(link.opts.chunker);
    // Errors reach whoever pipes this stream; without one attached, a reset must not crash.
    this.on('error', () => {});
  }

  /** The process-wide admission control for local socket reads (proxy/splice.ts uses it). */
  get gate(): ReadGate {
    return this.link.gate;
  }

  // ---- send side -------------------------------------------------------------------------
  override _write(data: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.tailTimer) {
      clearTimeout(this.tailTimer);
      this.tailTimer = null;
    }
    this.link.counters.appTx += data.length;
    this.held += data.length;
    this.link.gate.hold(data.length);
    noteBytes(data.length);
    if (this.link.mode === 'raw' || this.link.mode === 'lz4') {
      for (let o = 0; o < data.length; o += 65536)
        this.outQ.push(data.subarray(o, Math.min(data.length, o + 65536)));
    } else {
      for (const c of this.chunker.push(data)) this.outQ.push(c);
    }
    this.writeCb = cb;
    this.link.schedule(this);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.tailTimer) {
      clearTimeout(this.tailTimer);
      this.tailTimer = null;
    }
    this.flushTail();
    this.finalCb = cb;
    this.link.schedule(this);
  }

  private flushTail(): void {
    const t = this.chunker.flush();
    if (t) {
      this.outQ.push(t);
      this.link.schedule(this);
    }
  }

  /** Something to send right now (credit and queue permitting)? */
  get sendable(): boolean {
    if (this.outQ.length > 0) return this.sendCredit >= Math.min(this.outQ[0].length, this.link.peerWindow);
    return this.finalCb !== null && !this.finSent;
  }

  /** Send one DATA batch (or the FIN); returns whether more is sendable. Called by the link. */
  sendSome(): boolean {
    if (this.destroyed) return false;
    const chunks: Uint8Array[] = [];
    let batch = 0;
    while (this.outQ.length > 0 && batch < BATCH_BYTES) {
      let c = this.outQ[0];
      if (c.length > this.link.peerWindow) {
        // a peer window below our max chunk: split raw
        this.outQ[0] = c.subarray(this.link.peerWindow >>> 1);
        c = c.subarray(0, this.link.peerWindow >>> 1);
        this.outQ.unshift(c);
      }
      if (c.length > this.sendCredit) break;
      this.outQ.shift();
      this.sendCredit -= c.length;
      batch += c.length;
      chunks.push(c);
    }
    // Held references (an all-reference span, link.ts) go out once this stream would wait:
    // for credit, or for data with no partial chunk due (the tail timer flushes one in 20 ms).
    const last =
      this.outQ.length === 0
        ? this.chunker.pending === 0 || this.finalCb !== null
        : this.outQ[0].length > this.sendCredit;
    const ops: DataOp[] =
      chunks.length > 0 || this.heldRefs.length > 0 || this.txRuns.holding
        ? this.link.encodeBatch(this, chunks, last)
        : [];
    if (ops.length > 0) this.link.sendData(this.id, ops);
    // Queued chunks are views of the Buffer they were read into, which stays alive until the
    // last of them is sent: so the gate gets the bytes back only when the queue is empty
    // (what stays held is the chunker's tail, a copy of its own).
    if (this.outQ.length === 0 && this.held > this.chunker.pending) {
      const n = this.held - this.chunker.pending;
      this.held -= n;
      this.link.gate.release(n);
    }
    if (this.outQ.length === 0 && this.writeCb) {
      const cb = this.writeCb;
      this.writeCb = null;
      // All sent but a partial chunk: if the source stays quiet (no _write soon), send the
      // tail rather than hold it (latency). Armed only once we are idle, never while we wait
      // for credit, so bulk transfers keep purely content-defined cuts.
      if (this.chunker.pending > 0 && !this.finalCb) {
        if (this.tailTimer) clearTimeout(this.tailTimer);
        this.tailTimer = setTimeout(() => {
          this.tailTimer = null;
          this.flushTail();
        }, TAIL_FLUSH_MS);
      }
      cb();
    }
    if (this.outQ.length === 0 && this.finalCb && !this.finSent && this.chunker.pending === 0) {
      this.finSent = true;
      this.link.sendFrame(T.FIN, this.id);
      const cb = this.finalCb;
      this.finalCb = null;
      cb();
      this.maybeDone();
    }
    return this.sendable;
  }

  takeHeld(): DataOp[] {
    const h = this.heldRefs;
    this.heldRefs = [];
    return h;
  }

  /** A chunk was delivered here: extend the current span; a completed one's manifest is learned. */
  private delivered(fp: Uint8Array | null): void {
    if (!fp) {
      this.rxSpan.reset();
      return;
    }
    const m = this.rxSpan.push(fp);
    if (m) this.link.learnManifest(m);
  }

  /** A chunk went out on this stream (any op): keep the codec window's worth. */
  noteSent(fp: Uint8Array, len: number): void {
    this.txHist.push(fp, len, this.link.histWindow, this.link.histMax);
  }

  addCredit(n: number): void {
    this.sendCredit += n;
    this.link.schedule(this);
  }

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

  remoteEnd(): void {
    this.remoteFin = true;
    this.drainIn();
  }

  /** The literal we asked for arrived (already verified and stored by the link). */
  resolve(data: Uint8Array): string | null {
    if (this.waiting) this.got.set(fpKey(this.waiting), data);
    this.waiting = null;
    return this.drainIn();
  }

  /** Held chunk by fingerprint (a NEED answer first); asks the peer and returns undefined when missing. */
  private chunkFor(fp: Uint8Array): Uint8Array | undefined {
    const d = this.got.get(fpKey(fp)) ?? this.link.lookup(fp);
    if (!d) {
      this.waiting = fp;
      this.link.need(this, fp);
    }
    return d;
  }

  /** Reset this stream only, with a typed error (bad input that leaves the link usable). */
  private fail(code: EngineErrorCode, message: string): null {
    this.inQ = [];
    this.got.clear();
    this.destroy(new TunnelStreamError(code, `${message} (stream ${this.id})`));
    return null;
  }

  /** The chunks a REFM op stands for; null when the stream waits for one (NEED) or failed. */
  private expandRun(mfp: Uint8Array, rawLen: number): Array<[Uint8Array, Uint8Array]> | null {
    if (!this.link.acceptsRuns)
      return this.fail(
        'EDGEWAN_ERR_TUNNEL_CODEC',
        'a REFM op although this side did not offer reference runs',
      );
    const m = this.chunkFor(mfp);
    if (!m) return null;
    const fps = manifestFps(m);
    if (!fps)
      return this.fail(
        'EDGEWAN_ERR_TUNNEL_MANIFEST',
        `a REFM op names a chunk of ${m.length} bytes that is not a manifest`,
      );
    const out: Array<[Uint8Array, Uint8Array]> = [];
    let total = 0;
    for (const fp of fps) {
      const d = this.chunkFor(fp);
      if (!d) return null;
      out.push([fp, d]);
      total += d.length;
    }
    if (total !== rawLen)
      return this.fail(
        'EDGEWAN_ERR_TUNNEL_MANIFEST',
        `a REFM op declares ${rawLen} bytes, its chunks hold ${total}`,
      );
    return out;
  }

  /**
   * Deliver a REFN op's chunks, one at a time: stops (returns false) while one is asked for
   * (NEED) or the reader's buffer is full, and resumes where it stopped; true once the whole
   * range was delivered. The stream is reset when the range is not within the manifest or
   * its chunks do not add up to the declared length.
   */
  private expandRange(o: Extract<DataOp, { op: Op.REFN }>): boolean {
    if (!this.link.acceptsRanges) {
      this.fail('EDGEWAN_ERR_TUNNEL_CODEC', 'a REFN op although this side did not offer manifest ranges');
      return false;
    }
    if (!this.range) {
      const m = this.chunkFor(o.fp);
      if (!m) return false;
      const fps = manifestFps(m);
      if (!fps) {
        this.fail(
          'EDGEWAN_ERR_TUNNEL_MANIFEST',
          `a REFN op names a chunk of ${m.length} bytes that is not a manifest`,
        );
        return false;
      }
      if (o.count === 0 || o.start + o.count > fps.length) {
        this.fail(
          'EDGEWAN_ERR_TUNNEL_RUN_RANGE',
          `a REFN op names entries [${o.start}, ${o.start + o.count}) of a manifest of ${fps.length}`,
        );
        return false;
      }
      this.got.clear();
      this.range = { fps: fps.slice(o.start, o.start + o.count), next: 0, bytes: 0 };
    }
    const r = this.range;
    while (r.next < r.fps.length) {
      const fp = r.fps[r.next];
      const d = this.chunkFor(fp);
      if (!d) return false;
      this.got.clear();
      if (r.bytes + d.length > o.rawLen || (r.next === r.fps.length - 1 && r.bytes + d.length !== o.rawLen)) {
        this.fail(
          'EDGEWAN_ERR_TUNNEL_RUN_RANGE',
          `a REFN op declares ${o.rawLen} bytes, its chunks hold ${r.bytes + d.length}${r.next < r.fps.length - 1 ? ' or more' : ''}`,
        );
        return false;
      }
      r.next++;
      r.bytes += d.length;
      this.delivered(fp);
      this.pushed += d.length;
      this.link.counters.appRx += d.length;
      this.readWanted = false;
      if (!this.push(d) && !this.readWanted && r.next < r.fps.length) {
        this.rangePaused = true;
        return false;
      }
    }
    this.range = null;
    return true;
  }

  /** Decode a DZ op into its chunks; null when the stream waits for a dictionary chunk or failed. */
  private decodeDz(o: Extract<DataOp, { op: Op.DZ }>): Uint8Array[] | null {
    if (!this.link.acceptsDz)
      return this.fail(
        'EDGEWAN_ERR_TUNNEL_CODEC',
        'a DZ op although this side did not offer deflate with dictionaries',
      );
    if (o.zstd && !this.link.acceptsZstd)
      return this.fail('EDGEWAN_ERR_TUNNEL_CODEC', 'a zstd DZ op although this side did not offer zstd');
    const most = o.zstd ? ZSTD_MAX_DICT : DZ_MAX_DICT;
    if (o.dict.length > most)
      return this.fail(
        'EDGEWAN_ERR_TUNNEL_DICT_RANGE',
        `a DZ op names ${o.dict.length} dictionary chunks, at most ${most}`,
      );
    if (o.check && o.lens.length !== 1)
      return this.fail('EDGEWAN_ERR_TUNNEL_DICT_RANGE', 'a checked DZ op must carry one chunk');
    const parts: Uint8Array[] = [];
    for (const fp of o.dict) {
      const d = this.chunkFor(fp);
      if (!d) return null;
      parts.push(d);
    }
    const out = o.zstd
      ? unzstdWithDict(o.data, buildDict(parts, ZSTD_WINDOW), o.rawLen)
      : inflateWithDict(o.data, buildDict(parts), o.rawLen);
    if (!out)
      return this.fail(
        'EDGEWAN_ERR_TUNNEL_DECOMPRESS',
        `a DZ op does not ${o.zstd ? 'decompress' : 'inflate'} to its declared ${o.rawLen} bytes`,
      );
    noteBytes(o.rawLen);
    if (o.check && !fingerprint(out).equals(o.check))
      return this.fail('EDGEWAN_ERR_TUNNEL_CHECK', 'a delta does not match its fingerprint');
    if (o.lens.length === 1) return [out];
    // One buffer per chunk, which the store adopts and the reader gets: the op's output is
    // garbage at once instead of staying alive behind views.
    const chunks: Uint8Array[] = [];
    let at = 0;
    for (const l of o.lens) {
      const b = Buffer.allocUnsafeSlow(l);
      b.set(out.subarray(at, at + l));
      at += l;
      chunks.push(new Uint8Array(b.buffer, b.byteOffset, l));
    }
    return chunks;
  }

  private drainIn(): string | null {
    while (this.inQ.length > 0 && !this.waiting && !this.rangePaused && !this.destroyed) {
      const o = this.inQ[0];
      let data: Uint8Array | null | undefined;
      if (o.op === Op.REFN) {
        if (!this.expandRange(o)) break;
        this.inQ.shift();
        continue;
      }
      if (o.op === Op.DZ) {
        const chunks = this.decodeDz(o);
        if (!chunks) return null;
        this.got.clear();
        this.inQ.shift();
        for (const c of chunks) this.delivered(this.link.learn(c, true));
        this.pushed += o.rawLen;
        this.link.counters.appRx += o.rawLen;
        for (const c of chunks) this.push(c);
        continue;
      }
      if (o.op === Op.REFM) {
        const parts = this.expandRun(o.fp, o.rawLen);
        if (!parts) return null;
        this.got.clear();
        this.inQ.shift();
        this.pushed += o.rawLen;
        this.link.counters.appRx += o.rawLen;
        for (const [fp, d] of parts) {
          this.delivered(fp);
          this.push(d);
        }
        continue;
      }
      if (o.op === Op.REF) {
        data = this.chunkFor(o.fp);
        if (!data) return null;
        this.got.clear();
        if (data.length !== o.rawLen)
          return `reference on stream ${this.id} resolves to ${data.length} bytes, expected ${o.rawLen}`;
        this.delivered(o.fp);
      } else if (o.op === Op.LZ4) {
        data = decompressBlock(o.data, o.rawLen);
        if (!data) return `malformed LZ4 block on stream ${this.id}`;
        this.delivered(this.link.learn(data, true)); // a fresh buffer: the store keeps it rather than a copy
      } else {
        data = o.data;
        this.delivered(o.op === Op.LIT ? this.link.learn(data) : null);
      }
      this.inQ.shift();
      this.pushed += data.length;
      this.link.counters.appRx += data.length;
      this.push(data);
    }
    if (this.inQ.length === 0 && this.remoteFin && !this.readableEnded) {
      this.push(null);
      this.maybeDone();
    }
    this.returnCredit();
    return null;
  }

  override _read(): void {
    this.readWanted = true;
    if (this.rangePaused) {
      this.rangePaused = false;
      const e = this.drainIn();
      if (e) this.link.close(e);
      return;
    }
    this.returnCredit();
  }

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
    this.outQ = [];
    this.inQ = [];
    this.got.clear();
    this.heldRefs = [];
    this.txRuns.clear();
    this.range = null;
    this.txSpan.clear();
    this.rxSpan.clear();
    this.txHist.clear();
    if (this.held > 0) {
      this.link.gate.release(this.held);
      this.held = 0;
    }
    if (this.writeCb) {
      const c = this.writeCb;
      this.writeCb = null;
      c(err ?? new Error('stream closed'));
    }
    cb(err);
  }
}
