// `edgewan-build inspect` reader for APK v3 files (packages and packages.adb) and for a feed
// directory: our own decoder (../../formats/adb-decode.ts). Signatures are verified against
// the public keys (*.pem) found next to the file or one or two directories up, which is where
// the build puts dist/openwrt/25.12/<name>.pem.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { decodeApk } from '../formats/adb-decode.ts';
import { keyIdOfPublicPem } from '../formats/adb-sign.ts';

function nearbyKeys(file: string): { path: string; pem: string; keyId: string }[] {
  const out: { path: string; pem: string; keyId: string }[] = [];
  let dir = dirname(file);
  for (let i = 0; i < 3; i++) {
    for (const f of existsSync(dir) ? readdirSync(dir).sort() : []) {
      if (!f.endsWith('.pem')) continue;
      const pem = readFileSync(join(dir, f), 'utf8');
      if (!pem.includes('BEGIN PUBLIC KEY')) continue;
      try {
        out.push({ path: join(dir, f), pem, keyId: keyIdOfPublicPem(pem).toString('hex') });
      } catch {
        /* not an EC key */
      }
    }
    dir = dirname(dir);
  }
  return out;
}

/** Decode an .apk, a packages.adb, or a feed directory (its packages.adb and packages). */
export async function inspectApk(path: string): Promise<unknown> {
  if (statSync(path).isDirectory()) {
    const index = join(path, 'packages.adb');
    const apks = readdirSync(path)
      .filter((f) => f.endsWith('.apk'))
      .sort();
    return {
      format: 'apk-feed',
      path,
      index: await inspectApk(index),
      packages: await Promise.all(apks.map((f) => inspectApk(join(path, f)))),
    };
  }
  const buf = readFileSync(path);
  const keys = nearbyKeys(path);
  const plain = decodeApk(buf);
  const signatures = plain.signatures.map((s) => {
    const k = keys.find((x) => x.keyId === s.keyId);
    if (!k) return { ...s, verified: null, keyFile: null };
    const v = decodeApk(buf, k.pem).signatures.find((x) => x.keyId === s.keyId);
    return { ...s, verified: v?.verified ?? false, keyFile: k.path };
  });
  return { path, size: buf.length, ...plain, signatures };
}
