// usign (OpenWRT's signify-compatible Ed25519 signatures) from node:crypto (docs/platform-notes.md §7).
// Signature file: "untrusted comment: …" line, then base64("Ed" + 8-byte key number +
// 64-byte signature). Public key: base64("Ed" + key number + 32-byte key); opkg looks keys up
// in /etc/opkg/keys/ by the key number in 16 hex digits. Ed25519 is deterministic, so the
// same key and bytes always give the same signature (reproducible feeds).
// The key number of a PKCS#8 key (which has none of its own) is the first 8 bytes of
// SHA-512 over the raw public key: stable for a given key, documented in docs/openwrt.md.
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';

export interface UsignKey {
  keyNum: Buffer;
  publicRaw: Buffer;
  privatePem: string;
}

export function usignKey(privatePem: string): UsignKey {
  const pub = createPublicKey(createPrivateKey(privatePem)).export({ format: 'der', type: 'spki' }) as Buffer;
  if (pub.length !== 44) throw new Error('the usign key must be an Ed25519 PKCS#8 PEM private key');
  const publicRaw = pub.subarray(12);
  const keyNum = createHash('sha512').update(publicRaw).digest().subarray(0, 8);
  return { keyNum, publicRaw, privatePem };
}

export const keyNumHex = (k: UsignKey) => k.keyNum.toString('hex');

/** The detached signature file for data (e.g. Packages → Packages.sig). */
export function usignSign(data: Buffer, key: UsignKey): string {
  const sig = sign(null, data, createPrivateKey(key.privatePem));
  const blob = Buffer.concat([Buffer.from('Ed'), key.keyNum, sig]);
  return `untrusted comment: signed by key ${keyNumHex(key)}\n${blob.toString('base64')}\n`;
}

/** The public key file, named keyNumHex(key) in /etc/opkg/keys/. */
export function usignPublicFile(key: UsignKey, name: string): string {
  const blob = Buffer.concat([Buffer.from('Ed'), key.keyNum, key.publicRaw]);
  return `untrusted comment: ${name} public key ${keyNumHex(key)}\n${blob.toString('base64')}\n`;
}

function b64Line(text: string, what: string): Buffer {
  const lines = text.split('\n');
  if (!lines[0].startsWith('untrusted comment: ') || !lines[1])
    throw new Error(`${what}: not a signify/usign file`);
  const b = Buffer.from(lines[1], 'base64');
  if (b.subarray(0, 2).toString() !== 'Ed') throw new Error(`${what}: not an Ed25519 (Ed) blob`);
  return b;
}

/** Our own verifier (inspect and unit tests); signify-openbsd -V is the independent check. */
export function usignVerify(data: Buffer, sigText: string, pubText: string): boolean {
  const s = b64Line(sigText, 'signature');
  const p = b64Line(pubText, 'public key');
  if (!s.subarray(2, 10).equals(p.subarray(2, 10))) return false;
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), p.subarray(10, 42)]);
  return verify(null, data, createPublicKey({ key: spki, format: 'der', type: 'spki' }), s.subarray(10, 74));
}
