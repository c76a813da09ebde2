// Shared fixture for the Debian-family unit tests: branded PackageInfo, tiny stand-in
// payloads (the writers do not care what the executable is) and a throw-away OpenPGP key.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildInputs, PackageInfo } from '../../targets/target.ts';
import { generateTestKey } from '../../targets/formats/apt/sign.ts';
import { mapVersion } from '../../targets/version.ts';

export const MTIME = 1767225600; // 2026-01-01T00:00:00Z

export function info(over: Partial<PackageInfo> = {}, version = '1.2.0'): PackageInfo {
  return {
    name: 'acmewan',
    serviceName: 'acmewan',
    vendor: 'Acme Networks',
    maintainer: 'Acme Packaging <pkg@acme.example>',
    homepage: 'https://acme.example/wan',
    description: 'WAN optimizer for branch offices\nAcme WAN deduplicates and compresses branch traffic.',
    license: 'Apache-2.0',
    versions: mapVersion(version),
    memoryMaxBytes: 128 * 1024 * 1024,
    defaultConfig: { role: 'edge', admin: { listen: '127.0.0.1:9617' } },
    ...over,
  };
}

let keyPromise: Promise<string> | undefined;
/** One key per test process (key generation is the slow part). */
export function testKey(): Promise<string> {
  keyPromise ??= generateTestKey('acmewan', new Date('2020-01-01T00:00:00Z'));
  return keyPromise;
}

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A temp dir removed when the test process exits. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ewE-unit-'));
  made.push(d);
  return d;
}

/** A temp dir with stand-in executables and bundle, and BuildInputs pointing at them. */
export async function inputs(over: Partial<BuildInputs> = {}, pkg = info()): Promise<BuildInputs> {
  const dir = tempDir();
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const a of ['x64', 'arm64'])
    writeFileSync(join(bin, `exe-${a}`), `#!/bin/sh\necho stand-in ${a}\n`, { mode: 0o755 });
  writeFileSync(join(bin, 'bundle.cjs'), 'console.log("bundle");\n');
  writeFileSync(join(bin, 'LICENSES.txt'), 'lru-cache: ISC\n');
  return {
    info: pkg,
    mtime: MTIME,
    outDir: join(dir, 'dist'),
    executables: { x64: join(bin, 'exe-x64'), arm64: join(bin, 'exe-arm64') },
    bundle: join(bin, 'bundle.cjs'),
    licenses: join(bin, 'LICENSES.txt'),
    sboms: {},
    cacheDir: join(dir, 'cache'),
    keys: { openpgpPrivate: await testKey() },
    log: () => {},
    ...over,
  };
}
