// APK v3 signatures checked with Debian's openssl (apk-tools itself is not packaged for Debian
// 12 and not on npm, docs/platform-notes.md §7). Over exactly the bytes apk-tools signs (src/adb.c
// adb_digest_v0_signature: le32 schema || adb_sign_v0 header || SHA-512(ADB block)) with
// ECDSA-SHA512: a key made by openssl verifies, a flipped byte or another key does not. The
// key id is recomputed with openssl, and the "ADBd" deflate stream is decoded by gzip(1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';
import { needTool } from '../helpers/tools.ts';
import { loadApkKey } from '../../targets/formats/adb-sign.ts';
import { buildApkPackage } from '../../targets/formats/adb-package.ts';
import { buildApkIndex } from '../../targets/formats/adb-index.ts';

function run(
  cmd: string,
  args: string[],
  input?: Buffer,
): { status: number | null; out: Buffer; err: string } {
  const r = spawnSync(cmd, args, { input });
  return { status: r.status, out: r.stdout, err: r.stderr.toString() };
}

/** Decode "ADBd" + raw deflate with gzip(1): wrap it in a gzip member (RFC 1952). */
function gunzipRaw(file: Buffer): Buffer {
  assert.equal(file.subarray(0, 4).toString('latin1'), 'ADBd');
  const body = file.subarray(4);
  const plain = inflateRawSync(body); // only for the gzip trailer (CRC-32 and size of the data)
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(plain) >>> 0, 0);
  trailer.writeUInt32LE(plain.length >>> 0, 4);
  const gz = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), body, trailer]);
  const r = run('gzip', ['-dc'], gz);
  assert.equal(r.status, 0, `gzip -dc failed: ${r.err}`);
  assert.deepEqual(r.out, plain);
  return r.out;
}

/** Split a decompressed stream by hand: header, ADB block payload, SIG block payloads. */
function blocks(stream: Buffer): { schema: Buffer; adb: Buffer; sigs: Buffer[] } {
  const schema = stream.subarray(4, 8);
  let pos = 8;
  let adb: Buffer = Buffer.alloc(0);
  const sigs: Buffer[] = [];
  while (pos < stream.length) {
    const hdr = stream.readUInt32LE(pos);
    const type = hdr >>> 30;
    const raw = hdr & 0x3fffffff;
    const payload = stream.subarray(pos + 4, pos + raw);
    if (type === 0) adb = payload;
    else if (type === 1) sigs.push(payload);
    pos += Math.ceil(raw / 8) * 8;
  }
  return { schema, adb, sigs };
}

test('SIG blocks of a package and an index verify with openssl, and only with the right key and bytes', (t) => {
  if (!needTool(t, 'openssl') || !needTool(t, 'gzip')) return;
  const dir = mkdtempSync(join(tmpdir(), 'ewH-apk-'));
  try {
    const p = (n: string) => join(dir, n);
    for (const k of ['key1', 'key2']) {
      const g = run('openssl', [
        'genpkey',
        '-algorithm',
        'EC',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-out',
        p(`${k}.pem`),
      ]);
      assert.equal(g.status, 0, g.err);
      assert.equal(
        run('openssl', ['pkey', '-in', p(`${k}.pem`), '-pubout', '-out', p(`${k}.pub`)]).status,
        0,
      );
    }
    const key = loadApkKey(readFileSync(p('key1.pem'), 'utf8'));
    // The public key we export is exactly what openssl writes for /etc/apk/keys/.
    assert.equal(key.publicPem, readFileSync(p('key1.pub'), 'utf8'));
    // Key id = SHA-512(i2d_PublicKey) = SHA-512 of the 65-byte point at the end of the SPKI DER.
    const der = run('openssl', ['pkey', '-pubin', '-in', p('key1.pub'), '-outform', 'DER']).out;
    const idHash = run('openssl', ['dgst', '-sha512', '-binary'], der.subarray(der.length - 65)).out;
    assert.deepEqual(key.keyId, idHash.subarray(0, 16));

    const pkg = buildApkPackage(
      {
        info: { name: 'edgewan', version: '1.2.0-r1', arch: 'x86_64', description: 'openssl check' },
        mtime: 1_700_000_000,
        entries: [
          { type: 'file', path: 'usr/bin/edgewan', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
        ],
      },
      key,
    );
    const ndx = buildApkIndex({ description: 'feed', packages: [{ file: pkg.file }] }, key);
    let checked = 0;
    for (const [what, file] of [
      ['package', pkg.file],
      ['index', ndx.file],
    ] as const) {
      const { schema, adb, sigs } = blocks(gunzipRaw(file));
      assert.equal(sigs.length, 1, `${what}: one SIG block`);
      const sig = sigs[0];
      assert.deepEqual(sig.subarray(0, 2), Buffer.from([0, 4]), `${what}: sign_ver 0, hash_alg SHA512`);
      assert.deepEqual(sig.subarray(2, 18), idHash.subarray(0, 16), `${what}: key id`);
      const md = run('openssl', ['dgst', '-sha512', '-binary'], adb).out;
      const msg = Buffer.concat([schema, sig.subarray(0, 18), md]);
      writeFileSync(p('msg.bin'), msg);
      writeFileSync(p('sig.der'), sig.subarray(18));
      const verify = (pub: string, m = p('msg.bin')) =>
        run('openssl', ['dgst', '-sha512', '-verify', p(pub), '-signature', p('sig.der'), m]);
      const good = verify('key1.pub');
      assert.equal(good.status, 0, `${what}: ${good.out}${good.err}`);
      assert.match(good.out.toString(), /Verified OK/);
      assert.notEqual(verify('key2.pub').status, 0, `${what}: another key must not verify`);
      const flipped = Buffer.from(msg);
      flipped[flipped.length - 1] ^= 0x01;
      writeFileSync(p('flip.bin'), flipped);
      assert.notEqual(verify('key1.pub', p('flip.bin')).status, 0, `${what}: a flipped byte must not verify`);
      const flippedAdb = Buffer.from(adb);
      flippedAdb[9] ^= 0x01; // a byte of the package name
      writeFileSync(
        p('flip2.bin'),
        Buffer.concat([
          schema,
          sig.subarray(0, 18),
          run('openssl', ['dgst', '-sha512', '-binary'], flippedAdb).out,
        ]),
      );
      assert.notEqual(
        verify('key1.pub', p('flip2.bin')).status,
        0,
        `${what}: a flipped ADB byte must not verify`,
      );
      checked++;
    }
    assert.equal(checked, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
