// Frame-decoder fuzzer shared by the short CI test and `npm run fuzz:tunnel` (≥ 10^6 frames).
// Feeds random and mutated frames through FrameReader + the payload decoders in random-sized
// pieces; anything but a FrameError thrown, or a buffer above its bound, is a failure.
import {
  FrameReader,
  FrameError,
  encodeFrame,
  encodeOps,
  decodeOps,
  decodeChunk,
  decodeHello,
  encodeHello,
  T,
  Op,
  HEADER_LEN,
  MAX_PAYLOAD,
  type DataOp,
} from '../src/codec/frame.ts';
import { seeded, textLike, type Rng } from './codec-corpus.ts';
import { compressBlock, decompressBlock } from '../src/codec/block.ts';
import {
  deflateWithDict,
  inflateWithDict,
  zstdWithDict,
  unzstdWithDict,
  zstdAvailable,
} from '../src/codec/dict.ts';

function validFrame(r: Rng): Buffer {
  switch (r.int(6)) {
    case 0:
      return encodeFrame(
        T.HELLO,
        0,
        encodeHello({ version: 1, role: 'edge', cacheId: r.bytes(16), capacityMiB: 64, windowBytes: 65536 }),
      );
    case 1:
      return encodeFrame(T.CREDIT, r.int(100), Buffer.from([0, 1, 0, 0]));
    case 2:
      return encodeFrame(T.OPEN, r.int(100), Buffer.from('127.0.0.1:80'));
    default: {
      const ops: DataOp[] = [];
      for (let k = 0; k < 1 + r.int(4); k++) {
        const d = textLike(r, 1 + r.int(3000));
        const kind = r.int(7);
        if (kind === 4) {
          const zstd = r.int(2) === 1 && zstdAvailable; // zstd payloads where the runtime has it (Node 24)
          ops.push({
            op: Op.DZ,
            rawLen: d.length,
            dict: Array.from({ length: r.int(3) }, () => r.bytes(24)),
            lens: [d.length],
            check: r.int(2) ? r.bytes(24) : null,
            zstd,
            data: zstd ? zstdWithDict(d, new Uint8Array(0)) : deflateWithDict(d, new Uint8Array(0)),
          });
        } else if (kind === 5) ops.push({ op: Op.REFM, rawLen: d.length, fp: r.bytes(24) });
        else if (kind === 6)
          ops.push({ op: Op.REFN, rawLen: d.length, fp: r.bytes(24), start: r.int(70), count: r.int(70) });
        else if (kind === 0) ops.push({ op: Op.REF, rawLen: d.length, fp: r.bytes(24) });
        else if (kind === 1) ops.push({ op: Op.LZ4, rawLen: d.length, data: compressBlock(d) });
        else ops.push({ op: kind === 2 ? Op.LIT : Op.RAW, rawLen: d.length, data: d });
      }
      return encodeFrame(T.DATA, r.int(100), encodeOps(ops));
    }
  }
}

/** Runs `count` fuzz cases; returns counts. Throws on the first property violation. */
export function fuzzFrames(seed: number, count: number): { frames: number; errors: number } {
  const r = seeded(seed);
  let frames = 0;
  let errors = 0;
  for (let i = 0; i < count; i++) {
    let bytes: Uint8Array;
    const mode = r.int(4);
    if (mode === 0) bytes = r.bytes(1 + r.int(64));
    else {
      bytes = Buffer.concat([validFrame(r), validFrame(r)]);
      if (mode >= 2) for (let k = 0; k < 1 + r.int(3); k++) bytes[r.int(bytes.length)] = r.int(256);
      if (mode === 3 && r.int(2) === 0) bytes = bytes.subarray(0, r.int(bytes.length));
    }
    const reader = new FrameReader();
    try {
      for (let o = 0; o < bytes.length;) {
        const n = 1 + r.int(bytes.length - o);
        for (const f of reader.push(bytes.subarray(o, o + n))) {
          frames++;
          if (f.payload.length > MAX_PAYLOAD) throw new Error('payload above bound');
          if (f.type === T.DATA) {
            for (const op of decodeOps(f.payload)) {
              if (op.op === Op.LZ4) {
                const d = decompressBlock(op.data, op.rawLen);
                if (d && d.length !== op.rawLen) throw new Error('lz4 size');
              }
              if (op.op === Op.DZ) {
                const d = (op.zstd ? unzstdWithDict : inflateWithDict)(op.data, new Uint8Array(0), op.rawLen);
                if (d && d.length !== op.rawLen) throw new Error('dz size');
              }
            }
          } else if (f.type === T.CHUNK) decodeChunk(f.payload);
          else if (f.type === T.HELLO) decodeHello(f.payload);
        }
        o += n;
        if (reader.bufferedBytes > HEADER_LEN + MAX_PAYLOAD + bytes.length)
          throw new Error('reader buffer above bound');
      }
    } catch (e) {
      if (!(e instanceof FrameError)) throw new Error(`case ${i} (seed ${seed}): ${(e as Error).stack}`);
      errors++;
    }
  }
  return { frames, errors };
}
