// Frame format: round trips, strict rejection of absurd lengths, and a short bounded fuzz
// run (the ≥10^6-case run is `npm run fuzz:tunnel`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, FrameError, encodeFrame, encodeOps, decodeOps, T, Op } from '../src/codec/frame.ts';
import { fuzzFrames } from './codec-frame-fuzz.ts';

test('frames split at any byte come back whole', () => {
  const ops = [
    { op: Op.LIT as const, rawLen: 3, data: Buffer.from('abc') },
    { op: Op.REF as const, rawLen: 9000, fp: Buffer.alloc(24, 1) },
  ];
  const wire = Buffer.concat([
    encodeFrame(T.DATA, 7, encodeOps(ops)),
    encodeFrame(T.FIN, 7),
    encodeFrame(T.PING, 0, Buffer.alloc(8)),
  ]);
  for (let cut = 0; cut <= wire.length; cut++) {
    const r = new FrameReader();
    const got = [...r.push(wire.subarray(0, cut)), ...r.push(wire.subarray(cut))];
    assert.deepEqual(
      got.map((f) => [f.type, f.stream]),
      [
        [T.DATA, 7],
        [T.FIN, 7],
        [T.PING, 0],
      ],
    );
    const back = decodeOps(got[0].payload);
    assert.equal(back.length, 2);
    assert.equal(back[1].rawLen, 9000);
  }
});

test('absurd lengths and unknown types are rejected before buffering', () => {
  const hdr = Buffer.alloc(9);
  hdr[0] = T.DATA;
  hdr.writeUInt32BE(0xffffffff, 5);
  assert.throws(
    () => new FrameReader().push(hdr),
    (e: unknown) => e instanceof FrameError && /FRAME_LENGTH/.test(e.message),
  );
  hdr[0] = 200;
  hdr.writeUInt32BE(1, 5);
  assert.throws(() => new FrameReader().push(hdr), /FRAME_TYPE/);
  const lit = Buffer.from([Op.LIT, 0xff, 0xff, 0xff, 0xff]);
  assert.throws(() => decodeOps(lit), /OP_LENGTH/);
  assert.throws(() => decodeOps(Buffer.from([Op.LIT, 0, 0, 0, 9, 1])), /OP_TRUNCATED/);
});

test('fuzz: 30k random and mutated frames, only FrameErrors, bounded buffers', () => {
  const { frames, errors } = fuzzFrames(12345, 30_000);
  assert.ok(frames > 5_000 && errors > 5_000, `frames ${frames} errors ${errors}`);
});
