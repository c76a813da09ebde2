// Tunnel credentials: one self-signed P-256 certificate per role, pinned by the other side
// (SHA-256 of the certificate DER). `edgewan keygen --out DIR` calls generateCredentials();
// copy the directory to both peers (or give each its own key plus the peer's .crt).
// node:crypto makes keys and signatures but no certificates, hence the small DER writer
// below (RFC 5280 §4.1: version 3, no extensions — nothing validates a chain, only the pin).
import {
  createHash,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../fs/atomic.ts';

export type Role = 'edge' | 'core';

export function der(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len =
    n < 128 ? Buffer.from([n]) : n < 256 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 255]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
export const seq = (...xs: Buffer[]) => der(0x30, Buffer.concat(xs));
export const oid = (hex: string) => der(0x06, Buffer.from(hex, 'hex'));
export const ECDSA_SHA256 = seq(oid('2a8648ce3d040302')); // 1.2.840.10045.4.3.2
const CN = '550403'; // 2.5.4.3

/** A Name with one CN (UTF8String). */
export function name(cn: string): Buffer {
  return seq(der(0x31, seq(oid(CN), der(0x0c, Buffer.from(cn, 'utf8')))));
}

/**
 * A signed v3 certificate (ECDSA P-256 with SHA-256; random positive serial), PEM. `validity`
 * is the DER Validity; `extensions` (DER Extension each) are left out when there are none.
 */
export function signCertificate(o: {
  issuer: string;
  subject: string;
  validity: Buffer;
  publicKey: KeyObject;
  signKey: KeyObject;
  extensions?: Buffer[];
}): string {
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  serial[0] |= 0x01; // positive, no leading zero
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))),
    der(0x02, serial),
    ECDSA_SHA256,
    name(o.issuer),
    o.validity,
    name(o.subject),
    o.publicKey.export({ type: 'spki', format: 'der' }),
    ...(o.extensions?.length ? [der(0xa3, seq(...o.extensions))] : []),
  );
  const sig = sign('sha256', tbs, o.signKey);
  return pem('CERTIFICATE', seq(tbs, ECDSA_SHA256, der(0x03, Buffer.concat([Buffer.from([0]), sig]))));
}

function selfSignedCert(role: Role): { keyPem: string; certPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const utc = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  const validity = seq(der(0x17, Buffer.from(utc(new Date()))), der(0x18, Buffer.from('99991231235959Z')));
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: signCertificate({
      issuer: `edgewan-${role}`,
      subject: `edgewan-${role}`,
      validity,
      publicKey,
      signKey: privateKey,
    }),
  };
}

/** DER → PEM with the given label (64-character lines). */
export function pem(label: string, body: Buffer): string {
  const b64 = body.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

/** Pin of a certificate: "sha256:<hex of the DER's SHA-256>". */
export function certPin(certPem: string | Buffer): string {
  return `sha256:${createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex')}`;
}

export interface GeneratedCredentials {
  dir: string;
  files: string[];
  pins: Record<Role, string>;
}

/**
 * Write edge.key, edge.crt, core.key, core.crt into dir (created 0750; keys 0640). Refuses
 * to overwrite existing keys: replacing them would cut off the deployed peer.
 */
export function generateCredentials(dir: string): GeneratedCredentials {
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  for (const f of ['edge.key', 'core.key']) {
    if (existsSync(join(dir, f))) {
      throw new Error(
        `EDGEWAN_ERR_TUNNEL_KEYS_EXIST: ${join(dir, f)} already exists; move the old keys away first (both peers must get the new set)`,
      );
    }
  }
  const pins = {} as Record<Role, string>;
  const files: string[] = [];
  for (const role of ['core', 'edge'] as const) {
    const { keyPem, certPem } = selfSignedCert(role);
    for (const [f, text, mode] of [
      [`${role}.key`, keyPem, 0o640],
      [`${role}.crt`, certPem, 0o644],
    ] as const) {
      const p = join(dir, f);
      writeFileAtomicSync(p, text, { mode });
      files.push(p);
    }
    pins[role] = certPin(certPem);
  }
  return { dir, files, pins };
}
