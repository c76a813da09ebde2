// Shared fixture for the OpenWRT tests: BuildInputs around stand-ins (a host glibc ELF as the
// "executable", a fake glibc dir holding the right sonames, a small bundle, a fresh Ed25519
// key) or around the real dist/ outputs when a test asks for them.
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARCHES, type Arch } from '../../targets/arch.ts';
import type { BuildInputs } from '../../targets/target.ts';
import { mapVersion } from '../../targets/version.ts';

export const MTIME = 1700000000;

export function usignPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export function fakeGlibc(root: string, arch: Arch): string {
  const dir = join(root, 'glibc', arch);
  mkdirSync(dir, { recursive: true });
  const libs = [
    ARCHES[arch].loader,
    'libc.so.6',
    'libm.so.6',
    'libdl.so.2',
    'libpthread.so.0',
    'libstdc++.so.6',
    'libgcc_s.so.1',
  ];
  if (arch === 'armv7') libs.push('libatomic.so.1');
  for (const l of libs) writeFileSync(join(dir, l), `stand-in ${l}\n`);
  return dir;
}

export function standInInputs(
  opts: { key?: string; outDir?: string; version?: string } = {},
): BuildInputs & { root: string } {
  const root = mkdtempSync(join(tmpdir(), 'ewF-ow-'));
  const exe = join(root, 'edgewan-linux-x64');
  copyFileSync('/usr/bin/true', exe); // a real dynamically linked glibc ELF needing libc.so.6
  const bundle = join(root, 'edgewan.cjs');
  writeFileSync(
    bundle,
    `#!/usr/bin/env node\nconsole.log('stand-in bundle');\n${'// padding\n'.repeat(2000)}`,
  );
  writeFileSync(`${bundle}.LICENSES.txt`, 'MIT stand-in\n');
  return {
    root,
    info: {
      name: 'edgewan',
      serviceName: 'edgewan',
      vendor: 'Edgewan',
      maintainer: 'Edgewan <dev@edgewan.invalid>',
      homepage: 'https://edgewan.invalid/',
      description: 'WAN optimization service',
      license: 'Apache-2.0',
      versions: mapVersion(opts.version ?? '0.1.0'),
      memoryMaxBytes: 128 * 1048576,
      defaultConfig: { role: 'edge' },
    },
    mtime: MTIME,
    outDir: opts.outDir ?? join(root, 'dist'),
    executables: { x64: exe },
    glibc: { x64: fakeGlibc(root, 'x64') },
    bundle,
    licenses: `${bundle}.LICENSES.txt`,
    sboms: {},
    cacheDir: join(root, 'cache'),
    keys: { usignPrivatePem: opts.key ?? usignPem() },
    log: () => {},
  };
}
