// TLS 1.3 transport with mutual authentication before any tunnel frame is exchanged:
// either pinned self-signed certificates (both sides present one; each checks the peer's
// SHA-256 pin) or a pre-shared key (TLS 1.3 PSK: only holders of the key complete the
// handshake). A peer that fails is dropped right after the handshake, before HELLO.
import tls from 'node:tls';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadCredentials, type Role } from './credentials.ts';

export interface AuthConfig { keyDir?: string | null; psk: string | null; cert: string | null; key: string | null; pin: string | null; }

export interface Transport {
  server: tls.TlsOptions;
  client: tls.ConnectionOptions;
  /** null when the connected peer is acceptable, else why not. */
  verify(sock: tls.TLSSocket): string | null;
  describe: string;
}

const PSK_CIPHERS = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256';

function normalisePin(p: string): Buffer {
  const v = p.replace(/^sha256[:/]/i, '').replace(/:/g, '');
  const b = /^[0-9a-f]{64}$/i.test(v) ? Buffer.from(v, 'hex') : Buffer.from(v, 'base64');
  if (b.length !== 32) throw new Error(`EDGEWAN_ERR_TUNNEL_PIN: tunnel.auth.pin "${p}" is not a SHA-256 fingerprint (64 hex digits, optionally "sha256:" first)`);
  return b;
}

export function makeTransport(role: Role, auth: AuthConfig): Transport {
  const base = { minVersion: 'TLSv1.3' as const };
  if (auth.psk) {
    let key: Buffer;
    try { key = Buffer.from(readFileSync(auth.psk, 'utf8').trim(), 'hex'); } catch (e) {
      throw new Error(`EDGEWAN_ERR_TUNNEL_KEYS: cannot read tunnel.auth.psk ${auth.psk} (${(e as Error).message})`, { cause: e });
    }
    if (key.length < 16) throw new Error(`EDGEWAN_ERR_TUNNEL_KEYS: ${auth.psk} must hold at least 32 hex digits (128 bits)`);
    return {
      server: { ...base, ciphers: PSK_CIPHERS, pskCallback: () => key, pskIdentityHint: 'edgewan' },
      client: { ...base, ciphers: PSK_CIPHERS, pskCallback: () => ({ psk: key, identity: 'edgewan-edge' }), checkServerIdentity: () => undefined },
      verify: () => null,
      describe: 'psk',
    };
  }
  const dir = auth.keyDir ?? (auth.cert ? dirname(auth.cert) : '/etc/edgewan/keys');
  const peerRole: Role = role === 'edge' ? 'core' : 'edge';
  const creds = loadCredentials(role, {
    dir,
    cert: auth.cert ?? undefined,
    key: auth.key ?? (auth.cert ? auth.cert.replace(/\.(crt|pem)$/, '.key') : undefined),
    pins: auth.pin ? [auth.pin] : undefined,
    peerCert: join(dir, `${peerRole}.crt`),
  });
  const pins = creds.peerPins.map(normalisePin);
  const common = { ...base, key: creds.key, cert: creds.cert, rejectUnauthorized: false };
  return {
    server: { ...common, requestCert: true },
    client: { ...common, checkServerIdentity: () => undefined },
    verify(sock) {
      const cert = sock.getPeerCertificate();
      if (!cert || !cert.raw) return 'the peer presented no certificate';
      const got = createHash('sha256').update(cert.raw).digest();
      return pins.some((p) => timingSafeEqual(p, got)) ? null : `the peer's certificate (sha256:${got.toString('hex')}) does not match the pinned ${peerRole} certificate`;
    },
    describe: 'pinned-cert',
  };
}
