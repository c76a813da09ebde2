// Signing keys (docs/contract.md, "Keys and signatures"). A user's keys come from the
// environment (EDGEWAN_OPENPGP_KEY, EDGEWAN_USIGN_KEY, EDGEWAN_APK_KEY: file paths) or the
// manifest's `signing`; whatever is missing falls back to development keys generated ONCE per
// machine into ${XDG_CONFIG_HOME:-~/.config}/edgewan/dev-keys/ (never into git or dist/),
// and the build says loudly that it used them.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as openpgp from 'openpgp';
import type { SigningKeys } from '../targets/target.ts';
import { BuildError } from './errors.ts';
import type { Env } from './paths.ts';

export const DEV_KEY_FILES = {
  openpgpPrivate: 'openpgp-private.asc',
  openpgpPublic: 'openpgp-public.asc',
  usignPrivatePem: 'usign-ed25519-private.pem',
  usignPublicPem: 'usign-ed25519-public.pem',
  apkPrivatePem: 'apk-p256-private.pem',
  apkPublicPem: 'apk-p256-public.pem',
} as const;

/** Generate the dev key set into dir (atomically: a temp dir renamed into place). */
export async function ensureDevKeys(dir: string, name = 'edgewan'): Promise<void> {
  if (existsSync(join(dir, DEV_KEY_FILES.apkPrivatePem))) return;
  await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(`${dir}.tmp-`);
  try {
    // v4 curve25519Legacy EdDSA: what bookworm's gpgv/apt accept (docs/platform-notes.md §7).
    const pgp = await openpgp.generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      format: 'armored',
      userIDs: [{ name: `${name} development key (not for production)`, email: 'dev-keys@edgewan.invalid' }],
      config: { v6Keys: false },
    });
    const ed = generateKeyPairSync('ed25519');
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const files: Record<string, string> = {
      [DEV_KEY_FILES.openpgpPrivate]: pgp.privateKey,
      [DEV_KEY_FILES.openpgpPublic]: pgp.publicKey,
      [DEV_KEY_FILES.usignPrivatePem]: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      [DEV_KEY_FILES.usignPublicPem]: ed.publicKey.export({ type: 'spki', format: 'pem' }) as string,
      [DEV_KEY_FILES.apkPrivatePem]: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      [DEV_KEY_FILES.apkPublicPem]: ec.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    };
    for (const [f, text] of Object.entries(files))
      await writeFile(join(tmp, f), text, { mode: f.includes('private') ? 0o600 : 0o644 });
    try {
      await rename(tmp, dir);
    } catch (e) {
      // Another build made them at the same moment: use theirs.
      if (!existsSync(join(dir, DEV_KEY_FILES.apkPrivatePem))) throw e;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export interface ResolvedKeys {
  keys: SigningKeys;
  /** which keys came from the dev set */
  dev: (keyof SigningKeys)[];
}

function readKey(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_KEYS',
      `cannot read the ${what} key ${file}: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** env > manifest > dev keys, per key. */
export async function resolveKeys(o: {
  env: Env;
  devDir: string;
  manifest: { openpgpPrivateKey?: string; usignPrivateKey?: string; apkPrivateKey?: string };
}): Promise<ResolvedKeys> {
  const pick = (envName: string, m?: string) => o.env[envName] || m;
  const user = {
    openpgpPrivate: pick('EDGEWAN_OPENPGP_KEY', o.manifest.openpgpPrivateKey),
    usignPrivatePem: pick('EDGEWAN_USIGN_KEY', o.manifest.usignPrivateKey),
    apkPrivatePem: pick('EDGEWAN_APK_KEY', o.manifest.apkPrivateKey),
  };
  const keys: SigningKeys = {};
  const dev: (keyof SigningKeys)[] = [];
  for (const k of ['openpgpPrivate', 'usignPrivatePem', 'apkPrivatePem'] as const) {
    const f = user[k];
    if (f) keys[k] = readKey(f, k);
    else dev.push(k);
  }
  if (dev.length) {
    await ensureDevKeys(o.devDir);
    for (const k of dev) keys[k] = readKey(join(o.devDir, DEV_KEY_FILES[k]), `development ${k}`);
  }
  return { keys, dev };
}
