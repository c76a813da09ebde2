// Where the builder keeps things outside the repo (docs/build.md, "Paths"):
// ${XDG_CACHE_HOME:-~/.cache}/edgewan/{downloads,build} and
// ${XDG_CONFIG_HOME:-~/.config}/edgewan/dev-keys. Functions take the environment as an
// argument so only the composition root (cli.ts) reads process.env.
import { homedir } from 'node:os';
import { join } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

/** ${XDG_CACHE_HOME:-~/.cache}/edgewan — also BuildInputs.cacheDir for the targets. */
export function cacheRoot(env: Env): string {
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'edgewan');
}

/** Hash-checked downloads (runtimes), shared between builds and build caches. */
export function downloadDir(env: Env): string {
  return env.EDGEWAN_DOWNLOAD_DIR || join(cacheRoot(env), 'downloads');
}

/** Default content-addressed step cache (--cache-dir overrides). */
export function defaultStepCacheDir(env: Env): string {
  return join(cacheRoot(env), 'build');
}

export function devKeysDir(env: Env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'edgewan', 'dev-keys');
}

/** Repository root (scripts/..). */
export const REPO_ROOT = join(import.meta.dirname, '..');

/** apt-get's output when the build or npm test installs host tools (scripts/hosttools.ts). */
export function hostToolsLog(env: Env): string {
  return join(cacheRoot(env), 'host-tools.log');
}
