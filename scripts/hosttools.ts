// Host tools the executables step needs (FACTS §1, §3): cross strip, qemu-user for running
// arm Node binaries, and the cross C/C++ libraries qemu loads them with (QEMU_LD_PREFIX).
// Missing ones are installed with apt-get when running as root; otherwise the build stops
// with the exact command to run. The qemu binaries are called directly (no binfmt needed for
// the build); binfmt is still enabled when root, since later steps chroot into arm roots.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ARCHES, type Arch } from '../targets/arch.ts';
import { BuildError } from './errors.ts';
import type { Env } from './paths.ts';

interface Need { kind: 'cmd' | 'file'; what: string; pkg: string; }

/** What each arch needs on the host, with the Debian package that provides it. */
export function needsFor(arch: Arch): Need[] {
  const a = ARCHES[arch];
  const t = a.triplet;
  if (arch === 'x64') return [{ kind: 'cmd', what: 'x86_64-linux-gnu-strip', pkg: 'binutils-x86-64-linux-gnu' }];
  const cross = arch === 'arm64' ? 'arm64' : 'armhf';
  const needs: Need[] = [
    { kind: 'cmd', what: `${t}-strip`, pkg: `binutils-${t}` },
    { kind: 'cmd', what: a.qemu, pkg: 'qemu-user-static' },
    { kind: 'file', what: `/usr/${t}/lib/${a.loader}`, pkg: `libc6-${cross}-cross` },
    { kind: 'file', what: `/usr/${t}/lib/libstdc++.so.6`, pkg: `libstdc++6-${cross}-cross` },
    { kind: 'file', what: `/usr/${t}/lib/libgcc_s.so.1`, pkg: `libgcc-s1-${cross}-cross` },
  ];
  if (arch === 'armv7') needs.push({ kind: 'file', what: `/usr/${t}/lib/libatomic.so.1`, pkg: 'libatomic1-armhf-cross' });
  return needs;
}

/** Absolute path of a command on env.PATH, or undefined. */
export function which(cmd: string, env: Env): string | undefined {
  for (const d of (env.PATH ?? '').split(delimiter)) {
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return undefined;
}

function missing(arches: readonly Arch[], env: Env): Need[] {
  const seen = new Set<string>();
  const out: Need[] = [];
  for (const n of [...arches.flatMap(needsFor), { kind: 'cmd', what: 'patchelf', pkg: 'patchelf' } as Need]) {
    const ok = n.kind === 'cmd' ? !!which(n.what, env) : existsSync(n.what);
    if (!ok && !seen.has(n.what)) { seen.add(n.what); out.push(n); }
  }
  return out;
}

export interface HostToolOptions {
  env: Env;
  /** allow apt-get (default: when root and EDGEWAN_NO_APT is unset) */
  allowApt?: boolean;
  log: (m: string) => void;
}

/** Make sure every tool for these arches exists; install (root) or throw with the command. */
export function ensureHostTools(arches: readonly Arch[], o: HostToolOptions): void {
  let miss = missing(arches, o.env);
  if (miss.length) {
    const pkgs = [...new Set(miss.map((n) => n.pkg))].sort();
    const cmd = `apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
    const root = process.getuid?.() === 0;
    const apt = which('apt-get', o.env);
    const allow = o.allowApt ?? (root && !o.env.EDGEWAN_NO_APT);
    if (allow && root && apt) {
      o.log(`installing host tools: ${cmd}`);
      const env = { ...o.env, DEBIAN_FRONTEND: 'noninteractive' } as NodeJS.ProcessEnv;
      let r = spawnSync(apt, cmd.split(' ').slice(1), { stdio: 'ignore', env });
      if (r.status !== 0) {
        spawnSync(apt, ['update', '-q'], { stdio: 'ignore', env });
        r = spawnSync(apt, cmd.split(' ').slice(1), { stdio: 'ignore', env });
      }
      miss = missing(arches, o.env);
    }
    if (miss.length) {
      throw new BuildError('HOST_TOOLS',
        `missing host tools for ${arches.join(', ')}: ${miss.map((n) => n.what).join(', ')}. ` +
        `Install them with: ${root ? '' : 'sudo '}${cmd}` + (root ? '' : ' (or run the build as root and it installs them)'));
    }
  }
  if (process.getuid?.() === 0 && arches.some((a) => a !== 'x64')) enableBinfmt(o.env);
}

/** Best effort: binfmt_misc is not kept across machines (FACTS §3). */
function enableBinfmt(env: Env): void {
  const ub = which('update-binfmts', env);
  if (!ub) return;
  for (const h of ['qemu-aarch64', 'qemu-arm']) {
    if (!existsSync(`/proc/sys/fs/binfmt_misc/${h}`)) spawnSync(ub, ['--enable', h], { stdio: 'ignore' });
  }
}

/** argv prefix and env to run a binary of `arch` on this (x64) host. */
export function runnerFor(arch: Arch, env: Env): { argv: string[]; env: NodeJS.ProcessEnv } {
  const a = ARCHES[arch];
  if (arch === 'x64') return { argv: [], env: { ...env } as NodeJS.ProcessEnv };
  const qemu = which(a.qemu, env) ?? a.qemu;
  return {
    argv: [qemu],
    env: { ...env, QEMU_LD_PREFIX: `/usr/${a.triplet}`, ...(a.qemuCpu ? { QEMU_CPU: a.qemuCpu } : {}) } as NodeJS.ProcessEnv,
  };
}

/** The strip for an arch's ELF files. */
export function stripFor(arch: Arch, env: Env): string {
  return which(`${ARCHES[arch].triplet}-strip`, env) ?? `${ARCHES[arch].triplet}-strip`;
}
