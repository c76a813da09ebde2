// APK v3 signing: RFC 6979 nonces (test vector), apk-tools' key id, the SIG block layout and
// the exact signed bytes (src/adb.c adb_trust_write_signatures), wrong key types refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { ApkKeyError, ecdsaSha512Der, keyIdOfPublicPem, loadApkKey } from '../../targets/formats/adb-sign.ts';
import { buildApkPackage } from '../../targets/formats/adb-package.ts';

function p256Pem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

test('RFC 6979 A.2.5 (P-256, SHA-512, message "sample") gives the published r and s', () => {
  const d = Buffer.from('C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721', 'hex');
  const der = ecdsaSha512Der(Buffer.from('sample'), d);
  // DER: SEQUENCE { INTEGER r (33 bytes, leading 00), INTEGER s (32 bytes) }
  const r = '8496A60B5E9B47C825488827E0495B0E3FA109EC4568FD3F8D1097678EB97F00';
  const s = '2362AB1ADBE2B8ADF9CB9EDAB740EA6049C028114F2460F96554F61FAE3302FE';
  assert.equal(der.toString('hex').toUpperCase(), `3045022100${r}0220${s}`);
});

test('key id is the first 16 bytes of SHA-512 over the uncompressed EC point', () => {
  const pem = p256Pem();
  const key = loadApkKey(pem);
  const jwk = createPublicKey(pem).export({ format: 'jwk' }) as { x: string; y: string };
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x, 'base64url'),
    Buffer.from(jwk.y, 'base64url'),
  ]);
  assert.deepEqual(key.keyId, createHash('sha512').update(point).digest().subarray(0, 16));
  assert.deepEqual(keyIdOfPublicPem(key.publicPem), key.keyId);
  assert.match(key.publicPem, /^-----BEGIN PUBLIC KEY-----\n/); // SPKI, what PEM_read_bio_PUBKEY reads
});

test('keys apk-tools 3 cannot use are refused with the reason', () => {
  const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  assert.throws(
    () => loadApkKey(ed),
    (e: Error) => e instanceof ApkKeyError && /ed25519.*P-256/s.test(e.message),
  );
  assert.throws(() => loadApkKey(p384), /EC secp384r1, but .* P-256/);
  assert.throws(() => loadApkKey('not a key'), /not a readable PEM private key/);
});

test('SIG block: adb_sign_v0 {0, SHA512=4, id} + DER ECDSA-SHA512 over schema||header||SHA-512(ADB)', () => {
  const key = loadApkKey(p256Pem());
  const input = { info: { name: 'a', version: '1-r0', arch: 'noarch' }, mtime: 0, entries: [] };
  const built = buildApkPackage(input, key);
  const stream = inflateRawSync(built.file.subarray(4));
  const adbEnd = 8 + 4 + built.adb.length + ((8 - ((4 + built.adb.length) % 8)) % 8);
  const hdr = stream.readUInt32LE(adbEnd);
  assert.equal(hdr >>> 30, 1); // ADB_BLOCK_SIG
  const raw = hdr & 0x3fffffff;
  const payload = stream.subarray(adbEnd + 4, adbEnd + raw);
  assert.equal(payload[0], 0); // sign_ver 0
  assert.equal(payload[1], 4); // hash_alg APK_DIGEST_SHA512
  assert.deepEqual(payload.subarray(2, 18), key.keyId); // id[16]
  assert.equal(stream.length, adbEnd + Math.ceil(raw / 8) * 8); // padded to 8, nothing after
  const msg = Buffer.concat([
    Buffer.from('pckg', 'latin1'), // le32(ADB_SCHEMA_PACKAGE)
    Buffer.from([0, 4]),
    key.keyId, // struct adb_sign_v0 header
    createHash('sha512').update(built.adb).digest(), // SHA-512 of the ADB block payload
  ]);
  assert.ok(verify('sha512', msg, { key: key.publicPem, dsaEncoding: 'der' }, payload.subarray(18)));
  assert.deepEqual(buildApkPackage(input, key).file, built.file); // deterministic nonce: same bytes
});
