// `edgewan keygen --out DIR`: tunnel credentials for /etc/edgewan/keys (INTERFACES.md, "Files
// on devices"). The boundary with the tunnel: generateCredentials() returns the files to write;
// the tunnel owner may replace its body (e.g. add a certificate and its pin) without touching
// the writing, permission and no-overwrite logic here.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CredentialFile { name: string; data: string; mode: number; describe: string }

/** What a fresh set of credentials consists of. Default: a 256-bit pre-shared key (tunnel.auth.psk). */
export function generateCredentials(): CredentialFile[] {
  return [{ name: 'psk', data: `${randomBytes(32).toString('hex')}\n`, mode: 0o640, describe: 'pre-shared key: set tunnel.auth.psk to this path on both edge and core' }];
}

export class KeygenError extends Error {
  constructor(message: string, readonly code: string) { super(message); }
}

/** Write the credentials into dir (0750); refuses to overwrite existing files unless force. */
export function keygen(dir: string, force = false): Array<{ path: string; describe: string }> {
  const files = generateCredentials();
  if (!force) {
    const clash = files.map((f) => join(dir, f.name)).filter((p) => existsSync(p));
    if (clash.length) throw new KeygenError(`${clash.join(', ')} already exist(s); keep them, or pass --force to replace (peers must then get the new ones)`, 'EDGEWAN_ERR_KEYGEN_EXISTS');
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    return files.map((f) => {
      const path = join(dir, f.name);
      const tmp = `${path}.tmp-${process.pid}`;
      writeFileSync(tmp, f.data, { mode: f.mode });
      chmodSync(tmp, f.mode); // umask must not widen or narrow the documented mode
      renameSync(tmp, path);
      return { path, describe: f.describe };
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new KeygenError(`cannot write credentials into ${dir} (${err.code ?? err.message}); choose a writable --out directory`, 'EDGEWAN_ERR_KEYGEN_WRITE');
  }
}
