// APK v3 signatures (SIG block) with an EC P-256 key and RFC 6979 deterministic nonces, so
// rebuilds are byte-identical (node:crypto would use a random nonce, docs/platform-notes.md §7).
// What apk-tools signs (src/adb.c adb_trust_write_signatures + adb_digest_v0_signature,
// src/crypto_openssl.c apk_sign_start with APK_DIGEST_SHA512):
//   md   = SHA-512(ADB block payload)            — the adb_hdr and values, no block header/padding
//   msg  = le32(schema) || adb_sign_v0{sign_ver=0, hash_alg=4 (APK_DIGEST_SHA512), id[16]} || md
//   sig  = ECDSA-with-SHA512(msg), DER encoded  — EVP_DigestSign / mbedtls_pk_sign
//   SIG block payload = adb_sign_v0 header (18 bytes) || sig
// Key id (apk_pkey_init): first 16 bytes of SHA-512 over i2d_PublicKey(), which for an EC key
// is the uncompressed point 0x04||X||Y (mbedtls_pk_write_pubkey gives the same bytes).
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { ecdsa } from '@noble/curves/abstract/weierstrass.js';
import { sha512 } from '@noble/hashes/sha2.js';

// ECDSA P-256 with SHA-512 for both the message hash and RFC 6979's HMAC-DRBG, so the nonce
// is exactly RFC 6979's for "ECDSA, 256 Bits (Prime Field), With SHA-512" (test vector A.2.5).
const p256sha512 = ecdsa(p256.Point, sha512);

/** apk_crypto.h APK_DIGEST_SHA512 (the only hash apk-tools 3 signs with). */
export const APK_DIGEST_SHA512 = 0x04;
export const SIGN_V0_HEADER = 18;

export class ApkKeyError extends Error {
  readonly code = 'EDGEWAN_ERR_APK_KEY';
}

export interface ApkSigningKey {
  /** 32-byte P-256 scalar */
  secret: Uint8Array;
  /** uncompressed public point, 65 bytes */
  point: Buffer;
  /** first 16 bytes of SHA-512(point) */
  keyId: Buffer;
  /** SubjectPublicKeyInfo PEM, what /etc/apk/keys/ holds (PEM_read_bio_PUBKEY) */
  publicPem: string;
}

/** Load a PKCS#8 (or SEC1) PEM P-256 private key; any other key type is a clear error. */
export function loadApkKey(privatePem: string, source = 'the apk signing key'): ApkSigningKey {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: privatePem, format: 'pem' });
  } catch (err) {
    throw new ApkKeyError(
      `${source} is not a readable PEM private key: give a PKCS#8 PEM EC P-256 key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)`,
      { cause: err },
    );
  }
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') {
    const what = key.asymmetricKeyType === 'ec' ? `EC ${details?.namedCurve}` : String(key.asymmetricKeyType);
    throw new ApkKeyError(
      `${source} is ${what}, but APK v3 packages for OpenWRT 25.12 need an EC P-256 key (apk-tools 3 accepts RSA and P-256, not Ed25519): make one with openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`,
    );
  }
  const jwk = key.export({ format: 'jwk' });
  const secret = Buffer.from(String(jwk.d), 'base64url');
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(String(jwk.x), 'base64url'),
    Buffer.from(String(jwk.y), 'base64url'),
  ]);
  const publicPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
  return { secret, point, keyId: keyIdOfPoint(point), publicPem };
}

export function keyIdOfPoint(point: Buffer): Buffer {
  return createHash('sha512').update(point).digest().subarray(0, 16);
}

/** Key id of a public key PEM (SPKI), as apk-tools computes it when loading /etc/apk/keys. */
export function keyIdOfPublicPem(pem: string): Buffer {
  const jwk = createPublicKey(pem).export({ format: 'jwk' });
  if (jwk.kty !== 'EC') throw new ApkKeyError('only EC public keys are supported here');
  return keyIdOfPoint(
    Buffer.concat([
      Buffer.from([4]),
      Buffer.from(String(jwk.x), 'base64url'),
      Buffer.from(String(jwk.y), 'base64url'),
    ]),
  );
}

/** The exact bytes apk-tools feeds to the SHA-512 signature (see header comment). */
export function signedMessage(schema: number, signHeader: Buffer, adb: Buffer): Buffer {
  const s = Buffer.alloc(4);
  s.writeUInt32LE(schema >>> 0);
  const md = createHash('sha512').update(adb).digest();
  return Buffer.concat([s, signHeader, md]);
}

export function signHeaderFor(keyId: Buffer): Buffer {
  if (keyId.length !== 16) throw new ApkKeyError('an apk key id is 16 bytes');
  return Buffer.concat([Buffer.from([0, APK_DIGEST_SHA512]), keyId]);
}

/** SIG block payload: adb_sign_v0 header then the DER ECDSA signature (RFC 6979 nonce). */
export function signAdb(schema: number, adb: Buffer, key: ApkSigningKey): Buffer {
  const hdr = signHeaderFor(key.keyId);
  return Buffer.concat([hdr, ecdsaSha512Der(signedMessage(schema, hdr, adb), key.secret)]);
}

/**
 * ECDSA-with-SHA512 over `msg` (what EVP_DigestSign does for apk-tools), DER encoded, with the
 * RFC 6979 nonce. The SHA-512 digest is truncated to 256 bits by ECDSA itself, as openssl does.
 */
export function ecdsaSha512Der(msg: Uint8Array, secret: Uint8Array): Buffer {
  // lowS keeps s in the lower half; openssl and mbedtls accept either half.
  return Buffer.from(
    p256sha512.sign(msg, secret, { prehash: true, format: 'der', lowS: true, extraEntropy: false }),
  );
}

export interface SigInfo {
  signVer: number;
  hashAlg: number;
  keyId: Buffer;
  signature: Buffer;
}

export function parseSig(payload: Buffer): SigInfo {
  if (payload.length < SIGN_V0_HEADER)
    throw new ApkKeyError(`SIG block of ${payload.length} bytes is shorter than adb_sign_v0 (18)`);
  return {
    signVer: payload[0],
    hashAlg: payload[1],
    keyId: Buffer.from(payload.subarray(2, 18)),
    signature: Buffer.from(payload.subarray(18)),
  };
}

/** Verify a SIG payload against a public key PEM (node:crypto, independent of noble). */
export function verifyAdbSig(schema: number, adb: Buffer, sigPayload: Buffer, publicPem: string): boolean {
  const sig = parseSig(sigPayload);
  if (sig.signVer !== 0 || sig.hashAlg !== APK_DIGEST_SHA512) return false;
  if (!sig.keyId.equals(keyIdOfPublicPem(publicPem))) return false;
  const msg = signedMessage(schema, sigPayload.subarray(0, SIGN_V0_HEADER), adb);
  try {
    return nodeVerify('sha512', msg, { key: publicPem, dsaEncoding: 'der' }, sig.signature);
  } catch {
    return false;
  }
}
