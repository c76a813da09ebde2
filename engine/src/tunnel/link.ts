// One authenticated TLS connection between an edge and a core, carrying many TunnelStreams.
// Owns the frame reader, the HELLO exchange (cache identities), stream ids (edge odd, core
// even), fair scheduling of senders when the socket pushes back, NEED/CHUNK resolution of
// references, and keepalive/RTT. Any protocol violation closes the link with a logged
// reason; every stream in flight is then reset (never half-delivered as if complete).
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  FrameReader,
  FrameError,
  encodeFrame,
  encodeDataFrame,
  encodeOps,
  decodeOps,
  decodeChunk,
  decodeHello,
  encodeHello,
  PROTOCOL_VERSION,
  T,
  Op,
  CODEC_DEFLATE_DICT,
  CODEC_REF_RUNS,
  CODEC_ZSTD_DICT,
  CODEC_REF_RANGES,
  DZ_MAX_DICT,
  type DataOp,
  type Frame,
} from '../codec/frame.ts';
import { fingerprint, fpKey, keyFp, ownFp, FP_LEN } from '../codec/fingerprint.ts';
import { compressIfWorthwhile, decompressBlock, looksIncompressible } from '../codec/block.ts';
import {
  buildDict,
  deflateWithDict,
  zstdWithDict,
  zstdAvailable,
  DICT_WINDOW,
  ZSTD_WINDOW,
  ZSTD_MAX_DICT,
} from '../codec/dict.ts';
import { sketch, SketchIndex } from '../codec/resemble.ts';
import { RunIndex } from '../codec/runs.ts';
import type { ChunkerParams } from '../codec/chunker.ts';
import type { ChunkStore } from '../cache/store.ts';
import type { Logger } from '../log/logger.ts';
import { PeerModel } from './peer-model.ts';
import { TunnelStream } from './stream.ts';
import { newCounters, type Counters, type Mode } from './counters.ts';
import { ReadGate } from './gate.ts';
import { noteBytes } from './gc-guard.ts';

export interface LinkOptions {
  role: 'edge' | 'core';
  store: ChunkStore;
  chunker: ChunkerParams;
  /** receive window per stream (decoded bytes) announced to the peer */
  windowBytes: number;
  log: Logger;
  mode(): Mode;
  counters?: Counters;
  /** The peer cache id we dealt with last time (persisted), and how to remember the new one. */
  rememberedPeer?(): Uint8Array | null;
  rememberPeer?(id: Uint8Array): void;
  pingIntervalMs?: number;
  helloTimeoutMs?: number;
  /** receive buffer budget shared by all streams of this link (bytes, or read when needed); default 16 MiB */
  recvBudgetBytes?: number | (() => number);
  /** this link's share of the memory budget for its peer model (memory/links.ts); none: entries only */
  peerModelBytes?(): number;
  /** the sender's sketch index, shared by the links of one process; default: one of its own */
  sketches?: SketchIndex;
  /** the sender's manifest-range index (codec/runs.ts), shared like `sketches`; default: one of its own */
  runs?: RunIndex;
  /** admission control for local socket reads, shared by the links of one process */
  gate?: ReadGate;
  /** CODEC_* bits this side offers in HELLO (default: all of them; zstd where the runtime has it) */
  codecs?: number;
}

export class Link extends EventEmitter {
  readonly counters: Counters;
  readonly gate: ReadGate;
  peerWindow = 65536;
  rttMs = -1;
  private readonly reader = new FrameReader();
  private readonly streams = new Map<number, TunnelStream>();
  private readonly opening = new Map<number, { resolve(s: TunnelStream): void; reject(e: Error): void }>();
  private readonly needWaiters = new Map<string, TunnelStream[]>();
  private readonly ready = new Set<TunnelStream>();
  private nextId: number;
  private peer: PeerModel | null = null;
  private peerCodecs = 0;
  /** Sender side: super-feature → newest chunk with it, sized like the store's memory tier. */
  private readonly sketches: SketchIndex;
  /** Chunk → newest manifest listing it (REFN ranges), sized like the sketch index. */
  private readonly runs: RunIndex;
  /** Spans the batch being encoded completed, indexed only after its ranges are cut (see ranges()). */
  private spansDone: Array<[Uint8Array, Uint8Array]> = [];
  private blocked = false;
  private closed = false;
  private lastRx = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private helloTimer: NodeJS.Timeout | null = null;
  private whenReady: Promise<void>;
  private readyResolve!: () => void;

  constructor(
    readonly socket: Duplex,
    readonly opts: LinkOptions,
  ) {
    super();
    this.counters = opts.counters ?? newCounters();
    this.gate = opts.gate ?? new ReadGate(8 << 20);
    this.nextId = opts.role === 'edge' ? 1 : 2;
    this.sketches =
      opts.sketches ??
      new SketchIndex(Math.max(256, Math.ceil(opts.store.memoryLimit / opts.chunker.avgSize)));
    this.runs = opts.runs ?? new RunIndex(this.sketches.max);
    this.whenReady = new Promise((res) => {
      this.readyResolve = res;
    });
    this.whenReady.catch(() => {});
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('drain', () => {
      this.blocked = false;
      this.pump();
    });
    socket.on('error', (e) => this.close(`socket error: ${e.message}`));
    socket.on('close', () => this.close('connection closed by peer'));
    this.writeRaw(
      encodeFrame(
        T.HELLO,
        0,
        encodeHello({
          version: PROTOCOL_VERSION,
          role: opts.role,
          cacheId: opts.store.id,
          capacityMiB: opts.store.capacityMiB,
          windowBytes: opts.windowBytes,
          codecs: this.codecs,
        }),
      ),
    );
    this.helloTimer = setTimeout(
      () => this.close('no HELLO from peer in time'),
      opts.helloTimeoutMs ?? 10000,
    );
  }

  get mode(): Mode {
    return this.opts.mode();
  }
  /** CODEC_* bits we offer (and so accept). */
  get codecs(): number {
    return (
      (this.opts.codecs ?? CODEC_DEFLATE_DICT | CODEC_REF_RUNS | CODEC_ZSTD_DICT | CODEC_REF_RANGES) &
      (zstdAvailable ? 255 : ~CODEC_ZSTD_DICT)
    );
  }
  /** May the peer send us DZ ops? (We offered deflate with dictionaries.) */
  get acceptsDz(): boolean {
    return (this.codecs & CODEC_DEFLATE_DICT) !== 0;
  }
  /** May we send DZ ops? Both sides offered it. */
  get sendsDz(): boolean {
    return (this.codecs & this.peerCodecs & CODEC_DEFLATE_DICT) !== 0;
  }
  /** zstd instead of deflate in DZ ops: accepted / sent (both offered it; needs DZ too). */
  get acceptsZstd(): boolean {
    return (this.codecs & CODEC_ZSTD_DICT) !== 0;
  }
  get sendsZstd(): boolean {
    return this.sendsDz && (this.codecs & this.peerCodecs & CODEC_ZSTD_DICT) !== 0;
  }
  /** Send history a stream keeps for DZ dictionaries: bytes and chunks (the codec's window). */
  get histWindow(): number {
    return this.sendsZstd ? ZSTD_WINDOW : DICT_WINDOW;
  }
  get histMax(): number {
    return this.sendsZstd ? ZSTD_MAX_DICT : DZ_MAX_DICT;
  }
  /** May the peer send us REFM ops / may we send them? */
  get acceptsRuns(): boolean {
    return (this.codecs & CODEC_REF_RUNS) !== 0;
  }
  get sendsRuns(): boolean {
    return (this.codecs & this.peerCodecs & CODEC_REF_RUNS) !== 0;
  }
  /** May the peer send us REFN ops / may we send them? */
  get acceptsRanges(): boolean {
    return (this.codecs & CODEC_REF_RANGES) !== 0;
  }
  get sendsRanges(): boolean {
    return (this.codecs & this.peerCodecs & CODEC_REF_RANGES) !== 0;
  }
  get activeStreams(): number {
    return this.streams.size;
  }
  /** The sender's model of the peer's chunk store (after HELLO). */
  get peerModel(): PeerModel | null {
    return this.peer;
  }
  get isClosed(): boolean {
    return this.closed;
  }
  ready$(): Promise<void> {
    return this.whenReady;
  }

  /** Open a stream to `target` (host:port) on the far side; resolves once the peer connected it. */
  async open(target: string): Promise<TunnelStream> {
    await this.whenReady;
    if (this.closed) throw new Error('EDGEWAN_ERR_TUNNEL_LINK_DOWN: the tunnel link is down');
    const id = this.nextId;
    this.nextId += 2;
    const s = new TunnelStream(id, this, target);
    this.streams.set(id, s);
    this.sendFrame(T.OPEN, id, Buffer.from(target, 'utf8'));
    return new Promise((resolve, reject) => this.opening.set(id, { resolve, reject }));
  }

  /** Accept a stream the peer opened (after the caller connected the target). */
  accept(s: TunnelStream): void {
    this.sendFrame(T.OPEN_OK, s.id);
  }
  refuse(s: TunnelStream, reason: string): void {
    s.remoteReset = true;
    this.sendReset(s.id, reason);
    s.destroy();
  }

  // ---- used by TunnelStream --------------------------------------------------------------
  schedule(s: TunnelStream): void {
    if (!this.closed) {
      this.ready.add(s);
      this.pump();
    }
  }

  /**
   * Dedup mode: the one place a chunk is classified (both encoders use it). Returns its
   * fingerprint and whether it goes as a reference; a new chunk is stored and noted as held
   * by the peer. The fingerprint owns its memory (ownFp): callers keep it (spans, history,
   * sketches), and a view into Node's shared Buffer pool would pin a whole pool slab.
   */
  private classify(c: Uint8Array): { fp: Uint8Array; ref: boolean } {
    // A chunk our memory tier holds is found by byte comparison (no SHA-256: repeats
    // encode at memcmp speed); the fingerprint sent is the one stored with it.
    const held = this.opts.store.sameAs(c);
    const fp = ownFp(held ?? fingerprint(c));
    if (this.peer!.shouldRef(fp)) {
      // Not in the memory tier: the disk record is checked against these bytes (a damaged
      // one is rewritten from them), so a NEED is answered with exactly them.
      if (!held) this.opts.store.hold(fp, c);
      this.counters.chunkHits++;
      this.counters.savedDedup += c.length - FP_LEN - 5;
      return { fp, ref: true };
    }
    this.counters.chunkMisses++;
    this.opts.store.put(fp, c);
    this.peer!.add(fp);
    return { fp, ref: false };
  }

  encodeChunk(c: Uint8Array): DataOp {
    const mode = this.mode;
    if (mode === 'dedup' && this.peer) {
      const { fp, ref } = this.classify(c);
      if (ref) return { op: Op.REF, rawLen: c.length, fp };
    }
    if (mode === 'raw') return { op: Op.RAW, rawLen: c.length, data: c };
    const z = compressIfWorthwhile(c);
    const stored = mode === 'dedup';
    if (z) {
      this.counters.savedLz4 += c.length - z.length;
      return { op: Op.LZ4, rawLen: c.length, data: z };
    }
    return { op: stored ? Op.LIT : Op.RAW, rawLen: c.length, data: c };
  }

  /**
   * Encode the chunks of one DATA batch of stream s. In dedup mode with a peer that decodes
   * DZ: references as before; a new chunk similar to one both sides hold goes alone as a
   * delta (deflate with that base as the dictionary, checked by fingerprint); the other new
   * chunks of a run go together in one DZ op whose dictionary is the stream's recent chunks
   * (s.txHist: referenced ones too), i.e. compression with the stream's history. Without DZ,
   * chunk by chunk as encodeChunk.
   */
  encodeBatch(s: TunnelStream, chunks: Uint8Array[], last: boolean): DataOp[] {
    return this.ranges(s, this.encodeOps(s, chunks, last), last);
  }

  /**
   * REFs that continue consecutive entries of a manifest the peer holds go as one REFN
   * (codec/runs.ts); an open range is held like the REFs of a span and goes out at `last`.
   */
  private ranges(s: TunnelStream, ops: DataOp[], last: boolean): DataOp[] {
    let out = ops;
    const peer = this.peer;
    if (peer && this.sendsRanges && (s.txRuns.holding || ops.some((o) => o.op === Op.REF))) {
      out = s.txRuns.compact(ops, last, this.runs, (fp) => peer.shouldRef(fp));
      this.counters.savedDedup += s.txRuns.saved;
      s.txRuns.saved = 0;
    }
    // A span this batch completed lists chunks of this batch: the receiver builds it only
    // once it has them all, so no range of this batch may name it (it would cost a NEED).
    for (const [fp, m] of this.spansDone) this.runs.add(fp, m);
    this.spansDone = [];
    return out;
  }

  private encodeOps(s: TunnelStream, chunks: Uint8Array[], last: boolean): DataOp[] {
    if (this.mode !== 'dedup' || !this.peer || !this.sendsDz) {
      const out = s.takeHeld();
      s.txSpan.reset();
      for (const c of chunks) out.push(this.encodeChunk(c));
      return out;
    }
    const ops: DataOp[] = [];
    let run: Uint8Array[] = [];
    let runFps: Uint8Array[] = [];
    const flush = () => {
      if (run.length === 0) return;
      ops.push(...this.dzOps(s, run, runFps, null));
      run = [];
      runFps = [];
    };
    const runs = this.sendsRuns;
    for (const c of chunks) {
      const { fp, ref } = this.classify(c);
      if (ref) {
        flush();
        const op: DataOp = { op: Op.REF, rawLen: c.length, fp };
        // While the current span is all references, hold them: it may cross as one REFM.
        if (runs && s.spanAllRef) s.heldRefs.push(op);
        else ops.push(op);
        s.noteSent(fp, c.length);
      } else {
        if (s.heldRefs.length > 0) ops.push(...s.takeHeld());
        s.spanAllRef = false;
        const sf = sketch(c);
        let base: { fp: Uint8Array; data: Uint8Array } | null = null;
        if (sf) {
          const self = fpKey(fp);
          for (const k of this.sketches.candidates(sf)) {
            if (k === self) continue; // classify() stored it already: never its own base
            const b = keyFp(k);
            const d = this.peer.shouldRef(b) ? this.opts.store.get(b) : undefined;
            if (d) {
              base = { fp: b, data: d };
              break;
            }
          }
          this.sketches.add(sf, fp);
        }
        if (base) {
          flush();
          ops.push(...this.dzOps(s, [c], [fp], base));
        } else (run.push(c), runFps.push(fp));
      }
      const m = s.txSpan.push(fp);
      if (m) {
        const mfp = fingerprint(m);
        if (runs && s.spanAllRef && s.heldRefs.length * FP_LEN === m.length && this.peer.shouldRef(mfp)) {
          let total = 0;
          for (const h of s.heldRefs) total += h.rawLen;
          this.counters.savedDedup += (s.heldRefs.length - 1) * (FP_LEN + 5);
          s.heldRefs = [];
          ops.push({ op: Op.REFM, rawLen: total, fp: mfp });
        } else if (s.heldRefs.length > 0) ops.push(...s.takeHeld());
        // The receiver builds the same manifest from the same chunks (else it asks for it).
        this.opts.store.put(mfp, m, true);
        this.peer.add(mfp);
        this.spansDone.push([mfp, m]);
        s.spanAllRef = true;
      }
    }
    flush();
    // Held references go out before the stream waits (for data or credit): never sit on them.
    if (last && s.heldRefs.length > 0) ops.push(...s.takeHeld());
    return ops;
  }

  /** DZ op(s) for consecutive new chunks (already stored and noted as held by the peer). */
  private dzOps(
    s: TunnelStream,
    run: Uint8Array[],
    fps: Uint8Array[],
    base: { fp: Uint8Array; data: Uint8Array } | null,
  ): DataOp[] {
    const literal = () =>
      run.map((c, i) => {
        s.noteSent(fps[i], c.length);
        return { op: Op.LIT, rawLen: c.length, data: c } as DataOp;
      });
    // Compressed media, encrypted data: sent as literals without a deflate pass.
    if (!base && run.every(looksIncompressible)) return literal();
    const zstd = this.sendsZstd;
    const window = this.histWindow;
    const dict: Uint8Array[] = [];
    const parts: Uint8Array[] = [];
    if (base) {
      dict.push(base.fp);
      parts.push(base.data);
    } else {
      // The stream's recent chunks, newest last, while the peer holds them and we can read them.
      let have = 0;
      for (let i = 0; i < s.txHist.length && have < window; i++) {
        const { fp } = s.txHist.newest(i);
        const d = this.peer!.shouldRef(fp) ? this.opts.store.get(fp) : undefined;
        if (!d) break;
        dict.unshift(fp);
        parts.unshift(d);
        have += d.length;
      }
    }
    let raw: Uint8Array;
    if (run.length === 1) raw = run[0];
    else raw = Buffer.concat(run);
    const d = buildDict(parts, window);
    const z = zstd ? zstdWithDict(raw, d) : deflateWithDict(raw, d);
    noteBytes(raw.length);
    if (z.length >= raw.length - (raw.length >>> 5)) return literal();
    this.counters.savedLz4 += raw.length - z.length;
    for (let i = 0; i < run.length; i++) s.noteSent(fps[i], run[i].length);
    return [
      {
        op: Op.DZ,
        rawLen: raw.length,
        dict,
        lens: run.map((c) => c.length),
        check: base ? fps[0] : null,
        zstd,
        data: z,
      },
    ];
  }

  sendData(id: number, ops: DataOp[]): void {
    this.writeRaw(encodeDataFrame(id, ops));
  }
  sendCredit(id: number, n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    this.sendFrame(T.CREDIT, id, b);
  }
  sendReset(id: number, reason: string): void {
    if (this.closed) return;
    this.sendFrame(T.RST, id, Buffer.concat([Buffer.from([1]), Buffer.from(reason.slice(0, 200), 'utf8')]));
  }
  forget(id: number): void {
    const s = this.streams.get(id);
    if (s) {
      this.streams.delete(id);
      this.ready.delete(s);
      this.emit('streamClosed');
    }
  }

  lookup(fp: Uint8Array): Uint8Array | undefined {
    return this.opts.store.get(fp);
  }

  /**
   * Current receive window per stream: the budget shared by active streams, within
   * [initial, 16 MiB]. Credit counts decoded bytes, and repeats decode at CPU speed
   * (~300 MB/s), so one stream needs ~16 MiB to stay busy over a 50 ms RTT (bench:tunnel).
   */
  recvWindow(): number {
    const b = this.opts.recvBudgetBytes ?? 16 << 20;
    const share = Math.floor((typeof b === 'function' ? b() : b) / Math.max(1, this.streams.size));
    return Math.max(this.opts.windowBytes, Math.min(16 << 20, share));
  }

  /**
   * A literal arrived: store it (both sides keep every chunk that crossed) and note the peer
   * has it. `owned`: data is a fresh buffer (decompressed) the store may keep as is.
   * Returns its fingerprint (null when not deduplicating). Manifests are learned the same way.
   */
  learn(data: Uint8Array, owned = false): Uint8Array | null {
    if (this.mode !== 'dedup' || !this.peer) return null;
    const fp = fingerprint(data);
    this.opts.store.put(fp, data, owned);
    this.peer.add(fp);
    return fp;
  }

  /** A span's manifest completed on the receive side: learned, and indexed for REFN the other way. */
  learnManifest(m: Uint8Array): void {
    const fp = this.learn(m, true);
    if (fp) this.runs.add(ownFp(fp), m);
  }

  need(s: TunnelStream, fp: Uint8Array): void {
    const k = fpKey(fp);
    const list = this.needWaiters.get(k);
    if (list) {
      list.push(s);
      return;
    }
    this.needWaiters.set(k, [s]);
    this.counters.needs++;
    this.sendFrame(T.NEED, s.id, fp);
  }

  sendFrame(type: T, stream: number, payload?: Uint8Array): void {
    this.writeRaw(encodeFrame(type, stream, payload));
  }

  private writeRaw(b: Buffer): void {
    if (this.closed) return;
    this.counters.wireTx += b.length;
    if (!this.socket.write(b)) this.blocked = true;
  }

  private pump(): void {
    // Round-robin: one batch per ready stream per turn, until the socket pushes back.
    while (!this.blocked && !this.closed && this.ready.size > 0) {
      for (const s of [...this.ready]) {
        this.ready.delete(s);
        if (s.sendSome()) this.ready.add(s);
        if (this.blocked) break;
      }
    }
  }

  // ---- receive ---------------------------------------------------------------------------
  private onData(d: Buffer): void {
    if (this.closed) return;
    this.counters.wireRx += d.length;
    noteBytes(d.length);
    this.lastRx = Date.now();
    let frames: Frame[];
    try {
      frames = this.reader.push(d);
    } catch (e) {
      this.close((e as Error).message);
      return;
    }
    for (const f of frames) {
      let err: string | null;
      try {
        err = this.onFrame(f);
      } catch (e) {
        err = e instanceof FrameError ? e.message : `EDGEWAN_ERR_TUNNEL_INTERNAL: ${(e as Error).message}`;
      }
      if (err) {
        this.close(err);
        return;
      }
      if (this.closed) return;
    }
  }

  private onFrame(f: Frame): string | null {
    if (!this.peer && f.type !== T.HELLO) return 'EDGEWAN_ERR_TUNNEL_PROTOCOL: frame before HELLO';
    switch (f.type) {
      case T.HELLO: {
        if (this.peer) return 'EDGEWAN_ERR_TUNNEL_PROTOCOL: second HELLO';
        const h = decodeHello(f.payload);
        if (h.role === this.opts.role)
          return `EDGEWAN_ERR_TUNNEL_ROLE: both sides are "${h.role}"; one must be edge, the other core`;
        const prev = this.opts.rememberedPeer?.() ?? null;
        const same = prev !== null && Buffer.from(prev).equals(Buffer.from(h.cacheId));
        const entries = Math.min(4_000_000, Math.ceil((h.capacityMiB * 1048576) / this.opts.chunker.avgSize));
        this.peer = new PeerModel(this.opts.store, same, Math.min(entries, 262144), this.opts.peerModelBytes);
        this.opts.rememberPeer?.(h.cacheId);
        this.peerWindow = h.windowBytes;
        this.peerCodecs = h.codecs ?? 0;
        if (this.helloTimer) clearTimeout(this.helloTimer);
        this.startKeepalive();
        this.opts.log.info('tunnel link up', {
          peerRole: h.role,
          peerCache: Buffer.from(h.cacheId).toString('hex'),
          peerCacheKnown: same,
        });
        this.readyResolve();
        this.emit('ready');
        return null;
      }
      case T.OPEN: {
        if (
          f.stream === 0 ||
          (f.stream & 1) === (this.opts.role === 'edge' ? 1 : 0) ||
          this.streams.has(f.stream)
        )
          return `EDGEWAN_ERR_TUNNEL_PROTOCOL: bad stream id ${f.stream} in OPEN`;
        const s = new TunnelStream(f.stream, this, Buffer.from(f.payload).toString('utf8'));
        this.streams.set(f.stream, s);
        this.emit('stream', s);
        return null;
      }
      case T.OPEN_OK: {
        const o = this.opening.get(f.stream);
        const s = this.streams.get(f.stream);
        if (o && s) {
          this.opening.delete(f.stream);
          o.resolve(s);
        }
        return null;
      }
      case T.DATA: {
        const s = this.streams.get(f.stream);
        if (!s) return null; // raced with a reset: drop
        return s.receive(decodeOps(f.payload));
      }
      case T.CREDIT: {
        this.streams.get(f.stream)?.addCredit(Buffer.from(f.payload).readUInt32BE(0));
        return null;
      }
      case T.FIN: {
        this.streams.get(f.stream)?.remoteEnd();
        return null;
      }
      case T.RST: {
        const s = this.streams.get(f.stream);
        const reason = Buffer.from(f.payload.subarray(1)).toString('utf8');
        const o = this.opening.get(f.stream);
        if (o) {
          this.opening.delete(f.stream);
          o.reject(new Error(`EDGEWAN_ERR_TUNNEL_OPEN: the far side could not open the stream: ${reason}`));
        }
        if (s) {
          s.remoteReset = true;
          s.destroy(new Error(`EDGEWAN_ERR_TUNNEL_RESET: stream reset by peer: ${reason}`));
        }
        return null;
      }
      case T.NEED: {
        if (this.peer!.lost(f.payload))
          this.opts.log.warn(
            'the peer lacks many chunks it was believed to hold; its cache is assumed empty',
            { peerRole: this.opts.role === 'edge' ? 'core' : 'edge' },
          );
        const data = this.opts.store.get(f.payload);
        if (!data) {
          this.sendFrame(T.MISSING, 0, f.payload);
          return null;
        }
        const z = compressIfWorthwhile(data);
        const op: DataOp = z
          ? { op: Op.LZ4, rawLen: data.length, data: z }
          : { op: Op.LIT, rawLen: data.length, data };
        this.sendFrame(T.CHUNK, 0, Buffer.concat([f.payload, encodeOps([op])]));
        this.peer!.add(f.payload);
        return null;
      }
      case T.CHUNK: {
        const { fp, op } = decodeChunk(f.payload);
        const waiters = this.needWaiters.get(fpKey(fp));
        if (!waiters) return null;
        const data =
          op.op === Op.LZ4 ? decompressBlock(op.data, op.rawLen) : (op as { data: Uint8Array }).data;
        if (!data || !fingerprint(data).equals(Buffer.from(fp)))
          return 'EDGEWAN_ERR_TUNNEL_CHUNK: the literal sent for a reference does not match its fingerprint';
        this.needWaiters.delete(fpKey(fp));
        this.opts.store.put(fp, data, op.op === Op.LZ4);
        this.peer!.add(fp);
        for (const s of waiters) {
          const e = s.resolve(data);
          if (e) return e;
        }
        return null;
      }
      case T.MISSING: {
        const waiters = this.needWaiters.get(fpKey(f.payload)) ?? [];
        this.needWaiters.delete(fpKey(f.payload));
        for (const s of waiters)
          s.destroy(
            new Error('EDGEWAN_ERR_TUNNEL_CHUNK_LOST: neither side holds a referenced chunk any more'),
          );
        return null;
      }
      case T.PING: {
        this.sendFrame(T.PONG, 0, f.payload);
        return null;
      }
      case T.PONG: {
        this.rttMs = Date.now() - Number(Buffer.from(f.payload).readBigUInt64BE(0));
        return null;
      }
      default:
        return `EDGEWAN_ERR_TUNNEL_PROTOCOL: unexpected frame type ${f.type}`;
    }
  }

  private startKeepalive(): void {
    const every = this.opts.pingIntervalMs ?? 10000;
    const ping = () => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt(Date.now()));
      this.sendFrame(T.PING, 0, b);
    };
    ping();
    this.timer = setInterval(() => {
      if (Date.now() - this.lastRx > 3 * every) {
        this.close(`no traffic from peer for ${3 * every} ms`);
        return;
      }
      ping();
    }, every);
    this.timer.unref();
  }

  /** Close the link: every open stream is reset, pending opens fail. Idempotent. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.helloTimer) clearTimeout(this.helloTimer);
    const err = new Error(`EDGEWAN_ERR_TUNNEL_LINK_DOWN: ${reason}`);
    for (const o of this.opening.values()) o.reject(err);
    this.opening.clear();
    for (const s of [...this.streams.values()]) {
      s.remoteReset = true;
      s.destroy(err);
    }
    this.streams.clear();
    this.socket.destroy();
    this.emit('close', reason);
  }
}
