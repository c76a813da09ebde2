// TLS 1.3 transport with mutual authentication before any tunnel frame is exchanged:
// either pinned self-signed certificates (both sides present one; each checks the peer's
// SHA-256 pin) or a pre-shared key (TLS 1.3 PSK: only holders of the key complete the
// handshake). A peer that fails is dropped right after the handshake, before HELLO. In a
// fleet (tunnel.auth.ca) the peer's certificate must instead come from the fleet CA for the
// peer's role (fleet/pki.ts checkMember); the component then checks revocation and names.
import tls from 'node:tls';
import { createHash, timingSafeEqual } from 'node:crypto';
import { authMaterial, type AuthConfig, type FleetMaterial } from './auth.ts';
import type { Role } from './credentials.ts';
import { checkMember, type Checked } from './fleet/pki.ts';

export type { AuthConfig } from './auth.ts';

export interface Transport {
  server: tls.TlsOptions;
  client: tls.ConnectionOptions;
  /** null when the connected peer is acceptable, else why not. */
  verify(sock: tls.TLSSocket): string | null;
  describe: string;
  /** Fleet mode: the CA material, and the peer's identity (or why it has none). */
  fleet?: FleetMaterial & { identify(sock: tls.TLSSocket): Checked };
}

const PSK_CIPHERS = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256';

export function makeTransport(role: Role, auth: AuthConfig): Transport {
  const base = { minVersion: 'TLSv1.3' as const };
  const m = authMaterial(role, auth);
  if (m.kind === 'psk') {
    const key = m.key;
    return {
      server: { ...base, ciphers: PSK_CIPHERS, pskCallback: () => key, pskIdentityHint: 'edgewan' },
      client: {
        ...base,
        ciphers: PSK_CIPHERS,
        pskCallback: () => ({ psk: key, identity: 'edgewan-edge' }),
        checkServerIdentity: () => undefined,
      },
      verify: () => null,
      describe: 'psk',
    };
  }
  const peerRole: Role = role === 'edge' ? 'core' : 'edge';
  const creds = { key: m.key, cert: m.cert };
  const pins = m.pins;
  const common = { ...base, key: creds.key, cert: creds.cert, rejectUnauthorized: false };
  const f = m.fleet;
  /** null when the peer's certificate is one of the pinned ones, else why not. */
  const pinned = (sock: tls.TLSSocket): string | null => {
    const cert = sock.getPeerCertificate();
    if (!cert || !cert.raw) return 'the peer presented no certificate';
    const got = createHash('sha256').update(cert.raw).digest();
    return pins.some((p) => timingSafeEqual(p, got))
      ? null
      : `the peer's certificate (sha256:${got.toString('hex')}) does not match the pinned ${peerRole} certificate`;
  };
  if (f) {
    const identify = (sock: tls.TLSSocket): Checked => {
      const x = sock.getPeerX509Certificate();
      if (!x) return { ok: false, reason: 'no-certificate', message: 'the peer presented no certificate' };
      return checkMember(x, f.ca, peerRole);
    };
    return {
      server: { ...common, requestCert: true },
      client: { ...common, checkServerIdentity: () => undefined },
      verify(sock) {
        const c = identify(sock);
        return !c.ok ? c.message : pins.length ? pinned(sock) : null;
      },
      describe: 'fleet-ca',
      fleet: { ...f, identify },
    };
  }
  return {
    server: { ...common, requestCert: true },
    client: { ...common, checkServerIdentity: () => undefined },
    verify: pinned,
    describe: 'pinned-cert',
  };
}
