// Executables step: one Node single executable application per arch (docs/platform-notes.md §1). Order
// matters: the blob is made by the target's own Node (arm under qemu: the blob must match the
// major version and pointer width), the runtime is stripped, then postject injects the blob
// with the sentinel fuse. Each result is smoke-run (`--version`, qemu for arm) and its
// `arch=` and ELF e_machine/class are checked against targets/arch.ts before it is accepted.
import { execFile } from 'node:child_process';
import { copyFile, chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ARCHES, type Arch } from '../targets/arch.ts';
import { StepCache, restoreFile } from './cache.ts';
import { readElf } from '../targets/formats/elf.ts';
import { BuildError } from './errors.ts';
import { sha256File } from './fsutil.ts';
import { runnerFor, stripFor } from './hosttools.ts';
import type { Env } from './paths.ts';
import { ensureRuntime, type RuntimePin } from './runtimes.ts';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const POSTJECT_CLI = require.resolve('postject/dist/cli.js');
const POSTJECT_VERSION = (require('postject/package.json') as { version: string }).version;
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** process.arch each canonical arch must report */
export const NODE_ARCH: Record<Arch, string> = { x64: 'x64', arm64: 'arm64', armv7: 'arm' };

export interface SeaOptions {
  arch: Arch;
  bundle: string;
  bundleSha256: string;
  pin: RuntimePin;
  downloads: string;
  outDir: string;
  cache: StepCache;
  env: Env;
  log: (m: string) => void;
}

export interface SeaResult {
  path: string;
  sha256: string;
  size: number;
  versionLine: string;
  cached: boolean;
}

async function step<T>(what: string, arch: Arch, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof BuildError) throw e;
    const err = e as { stderr?: string; message?: string };
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_SEA',
      `${arch}: ${what} failed: ${(err.stderr || err.message || String(e)).trim().slice(0, 800)}`,
      { cause: e },
    );
  }
}

/** Run `exe --version` on its arch; check arch= and the ELF header; return the line. */
export async function smokeTest(exe: string, arch: Arch, env: Env): Promise<string> {
  const elf = await readElf(exe);
  const a = ARCHES[arch];
  if (!elf || elf.machine !== a.elfMachine || elf.elfClass !== a.elfClass) {
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_SMOKE',
      `${exe}: ELF e_machine ${elf?.machine ?? '?'} class ${elf?.elfClass ?? '?'}, expected ${a.elfMachine} class ${a.elfClass} for ${arch}`,
    );
  }
  const r = runnerFor(arch, env);
  const argv = [...r.argv, exe, '--version'];
  let out: string;
  try {
    out = (await run(argv[0], argv.slice(1), { env: r.env, timeout: 60_000 })).stdout.trim();
  } catch (e) {
    const err = e as { stderr?: string; code?: unknown; signal?: unknown };
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_SMOKE',
      `${arch}: "${argv.join(' ')}" failed (exit ${String(err.code ?? err.signal)}): ${(err.stderr ?? '').trim().slice(0, 500)}`,
      { cause: e },
    );
  }
  const got = /\barch=(\S+)/.exec(out)?.[1];
  if (got !== NODE_ARCH[arch]) {
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_SMOKE',
      `${arch}: "${exe} --version" printed arch=${got ?? '(none)'}, expected arch=${NODE_ARCH[arch]} (line: ${out})`,
    );
  }
  return out;
}

export function seaKey(o: Pick<SeaOptions, 'arch' | 'pin' | 'bundleSha256'>): string {
  return StepCache.key({
    step: 'sea',
    v: 1,
    arch: o.arch,
    runtime: o.pin,
    bundle: o.bundleSha256,
    postject: POSTJECT_VERSION,
    qemuCpu: ARCHES[o.arch].qemuCpu ?? null,
  });
}

export async function buildExecutable(o: SeaOptions): Promise<SeaResult> {
  const name = ARCHES[o.arch].executable;
  const dest = join(o.outDir, 'bin', name);
  const key = seaKey(o);
  let entry = await o.cache.get(key);
  const cached = !!entry;
  if (!entry) {
    const node = await ensureRuntime(o.pin, o.downloads, o.log);
    const tmp = await mkdtemp(join(tmpdir(), `edgewan-sea-${o.arch}-`));
    try {
      const r = runnerFor(o.arch, o.env);
      await copyFile(o.bundle, join(tmp, 'main.cjs'));
      // useCodeCache/useSnapshot blobs only work in the binary that made them: keep them off.
      await writeFile(
        join(tmp, 'sea.json'),
        JSON.stringify({
          main: 'main.cjs',
          output: 'sea.blob',
          disableExperimentalSEAWarning: true,
          useCodeCache: false,
          useSnapshot: false,
        }),
      );
      await step('making the SEA blob', o.arch, () =>
        run(
          r.argv[0] ?? node,
          [...r.argv.slice(1), ...(r.argv.length ? [node] : []), '--experimental-sea-config', 'sea.json'],
          { cwd: tmp, env: r.env, timeout: 300_000 },
        ),
      );
      const exe = join(tmp, name);
      await copyFile(node, exe);
      await chmod(exe, 0o755);
      await step('strip', o.arch, () => run(stripFor(o.arch, o.env), [exe], { timeout: 120_000 }));
      await step('postject', o.arch, () =>
        run(
          process.execPath,
          [POSTJECT_CLI, exe, 'NODE_SEA_BLOB', join(tmp, 'sea.blob'), '--sentinel-fuse', SEA_FUSE],
          { cwd: tmp, timeout: 300_000, maxBuffer: 16 << 20 },
        ),
      );
      await chmod(exe, 0o755);
      const line = await smokeTest(exe, o.arch, o.env);
      entry = await o.cache.put(key, { [name]: exe }, { versionLine: line, sha256: await sha256File(exe) });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  await restoreFile(entry, name, dest);
  const sha256 = await sha256File(dest);
  if (cached && sha256 !== entry.meta.sha256) {
    // dist/ shares the inode with the cache entry: something changed the file in place.
    o.log(`cached ${name} changed since it was built (sha256 ${sha256}); rebuilding it`);
    await rm(entry.dir, { recursive: true, force: true });
    await rm(dest, { force: true });
    return buildExecutable(o);
  }
  const { size } = await stat(dest);
  return { path: dest, sha256, size, versionLine: String(entry.meta.versionLine ?? ''), cached };
}
