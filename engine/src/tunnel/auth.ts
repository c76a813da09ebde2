// The tunnel's authentication material from tunnel.auth: a pre-shared key, or this side's key
// and certificate plus the peer's pin. Read and checked here, without TLS: makeTransport
// (transport.ts) uses it at start and the config loader (engine/src/config/rules.ts) for
// `check-config`, so both reject the same files. With tunnel.auth.ca (a fleet: docs/fleet.md)
// the peer must hold a certificate from that CA for its role instead of a pinned one, and a
// core may name a revocation list (engine/src/tunnel/fleet/).
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Role } from './credentials.ts';
import { checkMember, type PeerIdentity } from './fleet/pki.ts';
import { readRevocationList, type RevocationList } from './fleet/revocation.ts';

export interface AuthConfig {
  keyDir?: string | null;
  psk: string | null;
  cert: string | null;
  key: string | null;
  pin: string | null;
  /** fleet CA certificate (PEM); null: a single pinned pair or PSK */
  ca?: string | null;
  /** core: revocation list file (names or serial:HEX); null: none */
  revoked?: string | null;
}

export interface FleetMaterial {
  ca: X509Certificate;
  self: PeerIdentity;
  revoked: string | null;
  list: RevocationList | null;
}

/**
 * A tunnel.auth setting that cannot work, with the JSON pointer of the setting to fix. Thrown
 * by authMaterial(), which `check-config` and `run` both call before the tunnel starts, so
 * they reject the same configs (exit 78).
 */
export class AuthProblem extends Error {
  readonly code = 'EDGEWAN_ERR_TUNNEL_AUTH';
  constructor(
    readonly pointer: string,
    message: string,
  ) {
    super(message);
    this.name = 'AuthProblem';
  }
}

function normalisePin(p: string): Buffer {
  const v = p.replace(/^sha256[:/]/i, '').replace(/:/g, '');
  const b = /^[0-9a-f]{64}$/i.test(v)
    ? Buffer.from(v, 'hex')
    : /^[A-Za-z0-9+/]{43}=?$/.test(v)
      ? Buffer.from(v, 'base64')
      : Buffer.alloc(0);
  if (b.length !== 32)
    throw new AuthProblem(
      '/tunnel/auth/pin',
      `tunnel.auth.pin "${p}" is not a SHA-256 fingerprint (64 hex digits, optionally "sha256:" first, or 44 base64 characters)`,
    );
  return b;
}

export type AuthMaterial =
  | { kind: 'psk'; key: Buffer }
  | { kind: 'cert'; key: Buffer; cert: Buffer; pins: Buffer[]; fleet?: FleetMaterial };

/** Read and check every file tunnel.auth names; throws AuthProblem naming the setting. */
export function authMaterial(role: Role, auth: AuthConfig): AuthMaterial {
  const read = (file: string, pointer: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new AuthProblem(
        pointer,
        `cannot read ${what} ${file} (${code}); run "edgewan keygen --out DIR" and point tunnel.auth.keyDir at DIR`,
      );
    }
  };
  if (auth.psk && auth.ca)
    throw new AuthProblem(
      '/tunnel/auth/ca',
      'tunnel.auth.ca (a fleet of certificates) and tunnel.auth.psk exclude each other; set one',
    );
  if (auth.revoked && !auth.ca)
    throw new AuthProblem(
      '/tunnel/auth/revoked',
      'a revocation list needs the fleet CA: set tunnel.auth.ca too',
    );
  if (auth.revoked && role === 'edge')
    throw new AuthProblem(
      '/tunnel/auth/revoked',
      'only a core checks a revocation list; remove tunnel.auth.revoked on an edge',
    );
  if (auth.pin && auth.ca && role === 'core')
    throw new AuthProblem(
      '/tunnel/auth/pin',
      'a fleet core accepts every edge the CA signed (tunnel.auth.ca); a pin would allow one edge only: remove tunnel.auth.pin',
    );
  if (auth.psk) {
    const text = read(auth.psk, '/tunnel/auth/psk', 'the pre-shared key file').toString('utf8').trim();
    if (!/^([0-9a-fA-F]{2})+$/.test(text))
      throw new AuthProblem(
        '/tunnel/auth/psk',
        `${auth.psk} does not hold a hex key (an even number of 0-9/a-f digits, e.g. from "openssl rand -hex 32")`,
      );
    if (text.length < 32)
      throw new AuthProblem(
        '/tunnel/auth/psk',
        `${auth.psk} holds ${text.length} hex digits; at least 32 (128 bits) are needed`,
      );
    return { kind: 'psk', key: Buffer.from(text, 'hex') };
  }
  const dir = auth.keyDir ?? (auth.cert ? dirname(auth.cert) : '/etc/edgewan/keys');
  const dirPointer = auth.keyDir
    ? '/tunnel/auth/keyDir'
    : auth.cert
      ? '/tunnel/auth/cert'
      : '/tunnel/auth/keyDir';
  const peerRole: Role = role === 'edge' ? 'core' : 'edge';
  const keyFile =
    auth.key ?? (auth.cert ? auth.cert.replace(/\.(crt|pem)$/, '.key') : join(dir, `${role}.key`));
  const keyPointer = auth.key ? '/tunnel/auth/key' : dirPointer;
  const certFile = auth.cert ?? join(dir, `${role}.crt`);
  const certPointer = auth.cert ? '/tunnel/auth/cert' : dirPointer;
  const key = read(keyFile, keyPointer, `this side's (${role}) private key`);
  let keyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch (e) {
    throw new AuthProblem(
      keyPointer,
      `${keyFile} is not a usable private key (${(e as Error).message}); make a new set with "edgewan keygen"`,
    );
  }
  const cert = read(certFile, certPointer, `this side's (${role}) certificate`);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new AuthProblem(certPointer, `${certFile} is not a PEM certificate (${(e as Error).message})`);
  }
  if (!x509.checkPrivateKey(keyObject))
    throw new AuthProblem(keyPointer, `${keyFile} is not the private key of ${certFile}`);
  let pins: Buffer[];
  let fleet: FleetMaterial | undefined;
  if (auth.ca) {
    const caPem = read(auth.ca, '/tunnel/auth/ca', 'the fleet CA certificate');
    let ca: X509Certificate;
    try {
      ca = new X509Certificate(caPem);
    } catch (e) {
      throw new AuthProblem(
        '/tunnel/auth/ca',
        `${auth.ca} is not a PEM certificate (${(e as Error).message})`,
      );
    }
    if (!ca.ca)
      throw new AuthProblem(
        '/tunnel/auth/ca',
        `${auth.ca} is not a CA certificate (use the ca.crt "edgewan ca init" wrote)`,
      );
    const own = checkMember(x509, ca, role);
    if (!own.ok)
      throw new AuthProblem(
        certPointer,
        `${certFile} is not usable as this ${role}'s fleet certificate: ${own.message}`,
      );
    let list: RevocationList | null = null;
    if (auth.revoked) {
      try {
        list = readRevocationList(auth.revoked);
      } catch (e) {
        throw new AuthProblem('/tunnel/auth/revoked', (e as Error).message);
      }
    }
    fleet = { ca, self: own.id, revoked: auth.revoked ?? null, list };
    pins = auth.pin ? [normalisePin(auth.pin)] : [];
  } else if (auth.pin) pins = [normalisePin(auth.pin)];
  else {
    const peerFile = join(dir, `${peerRole}.crt`);
    const peer = read(peerFile, dirPointer, `the peer's (${peerRole}) certificate`);
    try {
      pins = [createHash('sha256').update(new X509Certificate(peer).raw).digest()];
    } catch (e) {
      throw new AuthProblem(dirPointer, `${peerFile} is not a PEM certificate (${(e as Error).message})`);
    }
  }
  return { kind: 'cert', key, cert, pins, fleet };
}
