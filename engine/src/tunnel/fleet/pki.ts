// The fleet's certificates: a P-256 CA on the core side that signs one certificate per edge
// (subject CN and subjectAltName dNSName = the edge's name, extendedKeyUsage clientAuth) and
// one for the core (serverAuth), so no edge certificate can pass for a core. An edge makes its
// own key and a PKCS#10 request (RFC 2986) so its key never leaves the box; the CA copies
// nothing from a request but its public key, after checking the request's signature (proof
// that the requester holds the key) and its name (names.ts). node:crypto signs and parses
// certificates but writes neither certificates nor requests and reads no requests, hence the
// small DER writer (tunnel/credentials.ts) and the reader below.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { der, seq, oid, name as cnName, ECDSA_SHA256, pem, signCertificate } from '../credentials.ts';
import { edgeNameProblem } from './names.ts';

export type FleetRole = 'edge' | 'core';

/** A bad request, certificate or key file, with a message naming what to fix. */
export class PkiProblem extends Error {
  readonly code = 'EDGEWAN_ERR_FLEET';
  constructor(message: string) {
    super(message);
    this.name = 'PkiProblem';
  }
}

// ---- DER reading -------------------------------------------------------------------------
interface Tlv {
  tag: number;
  body: Buffer;
  all: Buffer;
}

/** The TLVs in `buf`, in order; throws PkiProblem on any malformed length. */
export function derItems(buf: Buffer): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  while (i < buf.length) {
    if (i + 2 > buf.length) throw new PkiProblem('truncated DER');
    const tag = buf[i];
    let len = buf[i + 1];
    let h = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 3 || i + 2 + n > buf.length) throw new PkiProblem('bad DER length');
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + buf[i + 2 + k];
      h = 2 + n;
    }
    if (i + h + len > buf.length) throw new PkiProblem('DER length past the end of the data');
    out.push({ tag, body: buf.subarray(i + h, i + h + len), all: buf.subarray(i, i + h + len) });
    i += h + len;
  }
  return out;
}

function only(buf: Buffer, tag: number, what: string): Tlv {
  const xs = derItems(buf);
  if (xs.length !== 1 || xs[0].tag !== tag) throw new PkiProblem(`${what} is not well-formed DER`);
  return xs[0];
}

/** The CN of a DER Name (the last one when several). */
function commonName(nameDer: Buffer): string | null {
  let cn: string | null = null;
  for (const set of derItems(nameDer)) {
    for (const atv of derItems(set.body)) {
      const [t, v] = derItems(atv.body);
      if (t?.tag === 0x06 && t.body.toString('hex') === '550403' && v) cn = v.body.toString('utf8');
    }
  }
  return cn;
}

// ---- writing -----------------------------------------------------------------------------
const OID = {
  basicConstraints: '551d13',
  keyUsage: '551d0f',
  extKeyUsage: '551d25',
  subjectAltName: '551d11',
  serverAuth: '2b06010505070301',
  clientAuth: '2b06010505070302',
  csrSha256: '2a8648ce3d040302',
};
const TRUE = der(0x01, Buffer.from([0xff]));
const ext = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [TRUE] : []), der(0x04, value));

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDhhmmssZ
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(iso.slice(2))) : der(0x18, Buffer.from(iso));
}

export interface IssueOptions {
  subject: string;
  publicKey: KeyObject;
  issuer: { name: string; key: KeyObject };
  kind: 'ca' | FleetRole;
  notBefore?: Date;
  notAfter?: Date;
}

/** A v3 certificate (PEM) with the extensions for a CA, an edge or a core. */
export function issue(o: IssueOptions): string {
  const nb = o.notBefore ?? new Date(Date.now() - 60_000); // a minute of clock skew
  const na = o.notAfter ?? new Date(Date.now() + 825 * 86400_000);
  const exts =
    o.kind === 'ca'
      ? [
          ext(OID.basicConstraints, true, seq(TRUE)),
          ext(OID.keyUsage, true, der(0x03, Buffer.from([1, 0x06]))),
        ]
      : [
          ext(OID.basicConstraints, true, seq()),
          ext(OID.keyUsage, true, der(0x03, Buffer.from([7, 0x80]))),
          ext(OID.extKeyUsage, false, seq(oid(o.kind === 'core' ? OID.serverAuth : OID.clientAuth))),
          ext(OID.subjectAltName, false, seq(der(0x82, Buffer.from(o.subject, 'ascii')))),
        ];
  return signCertificate({
    issuer: o.issuer.name,
    subject: o.subject,
    validity: seq(time(nb), time(na)),
    publicKey: o.publicKey,
    signKey: o.issuer.key,
    extensions: exts,
  });
}

export function newKey(): { privateKey: KeyObject; publicKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKey, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** A PKCS#10 request for `name`, signed with `key` (PEM). */
export function makeCsr(name: string, key: KeyObject): string {
  const bad = edgeNameProblem(name);
  if (bad) throw new PkiProblem(`bad edge name: ${bad}`);
  const info = seq(
    der(0x02, Buffer.from([0])),
    cnName(name),
    createPublicKey(key).export({ type: 'spki', format: 'der' }),
    der(0xa0, Buffer.alloc(0)),
  );
  const sig = sign('sha256', info, key);
  return pem(
    'CERTIFICATE REQUEST',
    seq(info, ECDSA_SHA256, der(0x03, Buffer.concat([Buffer.from([0]), sig]))),
  );
}

function pemBody(text: string, label: string, what: string): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text);
  if (!m) throw new PkiProblem(`${what} holds no "-----BEGIN ${label}-----" block`);
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

/** Check a request (structure, P-256 key, signature, name); returns its name and public key. */
export function readCsr(text: string): { name: string; publicKey: KeyObject } {
  const body = pemBody(text, '(?:NEW )?CERTIFICATE REQUEST', 'the request');
  const outer = only(body, 0x30, 'the request');
  const [info, alg, sig] = derItems(outer.body);
  if (!info || info.tag !== 0x30 || !alg || !sig || sig.tag !== 0x03)
    throw new PkiProblem('the request is not a PKCS#10 CertificationRequest');
  if (!alg.all.equals(ECDSA_SHA256))
    throw new PkiProblem(
      'the request is not signed with ecdsa-with-SHA256 (make it with "edgewan keygen --csr NAME")',
    );
  const [ver, subject, spki] = derItems(info.body);
  if (!ver || ver.tag !== 0x02 || !subject || subject.tag !== 0x30 || !spki || spki.tag !== 0x30)
    throw new PkiProblem('the request is not a PKCS#10 CertificationRequest');
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spki.all, format: 'der', type: 'spki' });
  } catch (e) {
    throw new PkiProblem(`the request's public key is unreadable (${(e as Error).message})`);
  }
  if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new PkiProblem(
      `the request's key is ${publicKey.asymmetricKeyType} ${publicKey.asymmetricKeyDetails?.namedCurve ?? ''}; the fleet uses P-256 (prime256v1)`.replace(
        / +;/,
        ';',
      ),
    );
  }
  if (sig.body[0] !== 0 || !verify('sha256', info.all, publicKey, sig.body.subarray(1))) {
    throw new PkiProblem(
      "the request's signature does not verify: it was not made with the key it carries (or was altered)",
    );
  }
  const name = commonName(subject.body);
  if (name === null) throw new PkiProblem('the request has no CN (the edge name)');
  const bad = edgeNameProblem(name);
  if (bad) throw new PkiProblem(`bad edge name in the request: ${bad}`);
  return { name, publicKey };
}

// ---- checking ----------------------------------------------------------------------------
/** Why a peer was refused; also the label of tunnel_edges_rejected_total. */
export const REJECT_REASONS = [
  'no-certificate',
  'foreign-ca',
  'expired',
  'not-yet-valid',
  'wrong-role',
  'bad-name',
  'revoked',
  'duplicate-name',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface PeerIdentity {
  name: string;
  serial: string;
  notAfter: number;
}

export type Checked = { ok: true; id: PeerIdentity } | { ok: false; reason: RejectReason; message: string };

/** Lower-case hex without leading zeros: how serials are compared. */
export function normSerial(s: string): string {
  return s.toLowerCase().replace(/^0+(?=.)/, '');
}

export function extKeyUsage(x: X509Certificate): string[] {
  const v =
    (x as unknown as { extKeyUsage?: string[]; keyUsage?: string[] }).extKeyUsage ??
    (x as unknown as { keyUsage?: string[] }).keyUsage;
  return v ?? [];
}

/**
 * Does `cert` belong to a fleet member of `role` under `ca`, at time `now`? Chain (issuer name
 * and signature), validity window, extendedKeyUsage for the role, and the name (CN = a valid
 * edge name, and the subjectAltName when present says the same).
 */
export function checkMember(
  cert: X509Certificate,
  ca: X509Certificate,
  role: FleetRole,
  now = Date.now(),
): Checked {
  const fp = cert.fingerprint256;
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    return {
      ok: false,
      reason: 'foreign-ca',
      message: `the certificate (issuer "${cert.issuer.replace(/\n/g, ', ')}", SHA-256 ${fp}) is not signed by the fleet CA "${ca.subject.replace(/\n/g, ', ')}"`,
    };
  }
  const nb = Date.parse(cert.validFrom);
  const na = Date.parse(cert.validTo);
  if (!(now >= nb))
    return {
      ok: false,
      reason: 'not-yet-valid',
      message: `the certificate is not valid before ${new Date(nb).toISOString()} (check the clock of both boxes)`,
    };
  if (!(now <= na))
    return {
      ok: false,
      reason: 'expired',
      message: `the certificate expired at ${new Date(na).toISOString()}; sign a new one with "edgewan ca sign"`,
    };
  const want = role === 'core' ? '1.3.6.1.5.5.7.3.1' : '1.3.6.1.5.5.7.3.2';
  if (!extKeyUsage(cert).includes(want))
    return {
      ok: false,
      reason: 'wrong-role',
      message: `the certificate is not a fleet ${role} certificate (extendedKeyUsage lacks ${want})`,
    };
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '';
  const bad = edgeNameProblem(cn);
  if (bad) return { ok: false, reason: 'bad-name', message: `the certificate's name is unusable: ${bad}` };
  const san = cert.subjectAltName;
  if (san && san !== `DNS:${cn}`)
    return {
      ok: false,
      reason: 'bad-name',
      message: `the certificate's subjectAltName "${san}" does not match its CN "${cn}"`,
    };
  return { ok: true, id: { name: cn, serial: normSerial(cert.serialNumber), notAfter: na } };
}

/** Parse a PEM private key, or throw PkiProblem naming the file. */
export function readKey(text: Buffer | string, file: string): KeyObject {
  try {
    return createPrivateKey(text);
  } catch (e) {
    throw new PkiProblem(`${file} is not a usable private key (${(e as Error).message})`);
  }
}

export function readCert(text: Buffer | string, file: string): X509Certificate {
  try {
    return new X509Certificate(text);
  } catch (e) {
    throw new PkiProblem(`${file} is not a PEM certificate (${(e as Error).message})`);
  }
}
