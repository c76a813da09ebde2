// Host tools, for the whole project: every build step and every test stage declares the
// commands, files and binfmt handlers it needs, each with the Debian package that provides it
// (HostNeed). The build and `npm test` resolve all the needs of what they will run *before*
// the first step, then — as root — install everything missing in one `apt-get install`
// (refreshing stale package lists first) and enable the qemu binfmt handlers. Not root and no
// passwordless sudo: they stop before doing any work, with one message that lists every
// missing package and the exact command. docs/build.md ("Host tools") describes it.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ARCHES, type Arch } from '../targets/arch.ts';
import type { HostNeed } from '../targets/target.ts';
import { BuildError } from './errors.ts';
import type { Env } from './paths.ts';

export type { HostNeed };

/** What building one arch's executable needs: cross strip, qemu-user and the cross C/C++ libraries. */
export function executableNeeds(arch: Arch): HostNeed[] {
  const a = ARCHES[arch];
  const t = a.triplet;
  const f = `executable ${arch}`;
  const out: HostNeed[] = [{ kind: 'cmd', what: 'patchelf', pkg: 'patchelf', for: f }];
  if (arch === 'x64')
    return [
      ...out,
      { kind: 'cmd', what: 'x86_64-linux-gnu-strip', pkg: 'binutils-x86-64-linux-gnu', for: f },
    ];
  const cross = arch === 'arm64' ? 'arm64' : 'armhf';
  out.push(
    { kind: 'cmd', what: `${t}-strip`, pkg: `binutils-${t}`, for: f },
    { kind: 'cmd', what: a.qemu, pkg: 'qemu-user-static', for: f },
    { kind: 'file', what: `/usr/${t}/lib/${a.loader}`, pkg: `libc6-${cross}-cross`, for: f },
    { kind: 'file', what: `/usr/${t}/lib/libstdc++.so.6`, pkg: `libstdc++6-${cross}-cross`, for: f },
    { kind: 'file', what: `/usr/${t}/lib/libgcc_s.so.1`, pkg: `libgcc-s1-${cross}-cross`, for: f },
  );
  if (arch === 'armv7')
    out.push({ kind: 'file', what: `/usr/${t}/lib/libatomic.so.1`, pkg: 'libatomic1-armhf-cross', for: f });
  return out;
}

/** Absolute path of a command on env.PATH, or undefined. */
export function which(cmd: string, env: Env): string | undefined {
  for (const d of (env.PATH ?? '').split(delimiter)) {
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return undefined;
}

const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';

// apt puts system tools (mkfs.fat, debugfs, update-binfmts) in sbin, which a non-root
// user's PATH often lacks: a command there counts as installed.
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** which() that also searches sbin (see above). */
function whichSbin(cmd: string, env: Env): string | undefined {
  return which(cmd, { ...env, PATH: [env.PATH ?? '', ...SBIN].join(delimiter) });
}

function satisfied(n: HostNeed, env: Env): boolean {
  if (n.kind === 'cmd') return !!whichSbin(n.what, env);
  if (n.kind === 'file') return existsSync(n.what);
  return existsSync(join(BINFMT_DIR, n.what));
}

/** The needs not met on this host, one per `what` (first declarer wins; `for` lists all). */
export function missingNeeds(needs: readonly HostNeed[], env: Env): HostNeed[] {
  const byWhat = new Map<string, HostNeed>();
  for (const n of needs) {
    const key = `${n.kind}:${n.what}`;
    const seen = byWhat.get(key);
    if (seen) {
      if (!seen.for.split(', ').includes(n.for)) byWhat.set(key, { ...seen, for: `${seen.for}, ${n.for}` });
      continue;
    }
    byWhat.set(key, n);
  }
  return [...byWhat.values()].filter((n) => !satisfied(n, env));
}

/** Debian or Ubuntu (ID / ID_LIKE in /etc/os-release); package names differ in a few places. */
export function hostDistro(osRelease = '/etc/os-release'): 'debian' | 'ubuntu' | 'other' {
  let text = '';
  try {
    text = readFileSync(osRelease, 'utf8');
  } catch {
    return 'other';
  }
  const field = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1] ?? '';
  const ids = `${field('ID')} ${field('ID_LIKE')}`.split(/\s+/);
  if (ids.includes('ubuntu')) return 'ubuntu';
  return ids.includes('debian') ? 'debian' : 'other';
}

/** The package that provides a need on this distro; null when it has no .deb there. */
export function packageFor(n: HostNeed, distro: ReturnType<typeof hostDistro>): string | null {
  return distro === 'ubuntu' && n.ubuntu !== undefined ? n.ubuntu : n.pkg;
}

/** Packages to install for the missing needs (a binfmt handler needs qemu-user-static + binfmt-support). */
function packagesFor(
  miss: readonly HostNeed[],
  env: Env,
  distro: ReturnType<typeof hostDistro>,
): { pkgs: string[]; none: HostNeed[] } {
  const pkgs = new Set<string>();
  const none: HostNeed[] = [];
  for (const n of miss) {
    const p = packageFor(n, distro);
    if (p === null) {
      none.push(n);
      continue;
    }
    pkgs.add(p);
    if (n.kind === 'binfmt' && !whichSbin('update-binfmts', env)) pkgs.add('binfmt-support');
  }
  return { pkgs: [...pkgs].sort(), none };
}

export interface HostToolOptions {
  env: Env;
  /** allow apt-get (default: when root, or with passwordless sudo, and EDGEWAN_NO_APT is unset) */
  allowApt?: boolean;
  log: (m: string) => void;
  /** where apt-get's output is kept (default: none kept) */
  logFile?: string;
  /** for messages: "the build", "npm test" */
  who?: string;
  /** how long apt-get waits for another process's package lock (default 120 s) */
  lockTimeoutS?: number;
}

type Runner = (args: string[]) => SpawnSyncReturns<string>;

/** How this process can run apt-get: directly as root, through `sudo -n`, or not at all. */
function aptRunner(o: HostToolOptions): { run?: Runner; prefix: string; why?: string } {
  const root = process.getuid?.() === 0;
  const prefix = root ? '' : 'sudo ';
  if (o.allowApt === false || o.env.EDGEWAN_NO_APT)
    return { prefix, why: 'installing is switched off (EDGEWAN_NO_APT)' };
  const apt = which('apt-get', o.env);
  if (!apt)
    return { prefix, why: 'this host has no apt-get (the project supports Debian 12 and Ubuntu hosts)' };
  const env = { ...o.env, DEBIAN_FRONTEND: 'noninteractive' } as NodeJS.ProcessEnv;
  const opts = { encoding: 'utf8' as const, env, maxBuffer: 64 << 20 };
  if (root) return { prefix, run: (args) => spawnSync(apt, args, opts) };
  const sudo = which('sudo', o.env);
  if (o.allowApt !== true && (!sudo || spawnSync(sudo, ['-n', 'true'], { stdio: 'ignore' }).status !== 0)) {
    return { prefix, why: 'not running as root, and sudo needs a password' };
  }
  return { prefix, run: (args) => spawnSync(sudo ?? 'sudo', ['-n', apt, ...args], opts) };
}

/** apt's package lists are missing or older than a day: the mirror may have moved on. */
export function listsStale(dir = '/var/lib/apt/lists', maxAgeMs = 24 * 3600_000, now = Date.now()): boolean {
  let newest = 0;
  try {
    for (const f of readdirSync(dir))
      if (f.includes('_Packages')) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
  } catch {
    return true;
  }
  return newest === 0 || now - newest > maxAgeMs;
}

/** "Need to get 1,234 MB of archives" / "After this operation, 3,456 MB ..." from a dry run. */
export function parseAptSize(text: string): { download?: string; disk?: string; count?: number } {
  const download = /Need to get ([\d.,]+ [kMG]?B)/.exec(text)?.[1];
  const disk = /After this operation, ([\d.,]+ [kMG]?B) of additional disk space/.exec(text)?.[1];
  const count = Number(/(\d+) newly installed/.exec(text)?.[1] ?? NaN);
  return { download, disk, count: Number.isFinite(count) ? count : undefined };
}

/** One paragraph for a failed apt-get, by what its output says. */
export function explainAptFailure(out: string, cmd: string): string {
  const tail = out.trim().split('\n').slice(-8).join('\n');
  if (/Could not get lock|Unable to acquire the dpkg frontend lock|is another process using it/.test(out)) {
    return (
      `another apt-get or dpkg process holds the package lock. Wait for it to finish ` +
      `(ps -C apt-get,dpkg,unattended-upgr), then run the same command again, or install yourself: ${cmd}`
    );
  }
  if (/dpkg was interrupted|dpkg --configure -a/.test(out)) {
    return (
      `dpkg is half-configured from an earlier, interrupted install. Run "dpkg --configure -a" (as root), then ` +
      `run the same command again, or install yourself: ${cmd}`
    );
  }
  const gone = [
    ...out.matchAll(/Unable to locate package (\S+)|Package '?(\S+?)'? has no installation candidate/g),
  ].map((m) => m[1] ?? m[2]);
  if (gone.length) {
    return (
      `the configured apt sources do not have ${[...new Set(gone)].join(', ')} (after apt-get update). Add Debian 12 ` +
      `"bookworm main" to /etc/apt/sources.list (or your mirror), then: ${cmd}`
    );
  }
  return `apt-get failed. Its last lines:\n${tail}\nFix the cause, then run the same command again, or install yourself: ${cmd}`;
}

export class HostToolsError extends BuildError {
  constructor(message: string) {
    super('EDGEWAN_ERR_BUILD_HOST_TOOLS', message);
    this.name = 'HostToolsError';
  }
}

/** "pkg (what, what: who, who); …" — one entry per package, for messages. */
function describe(miss: readonly HostNeed[], distro = hostDistro()): string {
  const byPkg = new Map<string, { whats: string[]; fors: Set<string> }>();
  for (const n of miss) {
    const p = packageFor(n, distro) ?? n.what;
    const e = byPkg.get(p) ?? { whats: [], fors: new Set<string>() };
    e.whats.push(n.kind === 'binfmt' ? `binfmt handler ${n.what}` : n.what.replace(/^.*\//, ''));
    for (const f of n.for.split(', ')) e.fors.add(f);
    byPkg.set(p, e);
  }
  return [...byPkg]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([p, e]) => `${p} (${[...new Set(e.whats)].join(', ')}: ${[...e.fors].join(', ')})`)
    .join('; ');
}

/**
 * Make sure every need is met: install what is missing in one apt-get call (root or
 * passwordless sudo) and enable binfmt handlers, or throw a HostToolsError that lists every
 * missing package with the exact command. Returns the packages it installed.
 */
export function ensureHostTools(needs: readonly HostNeed[], o: HostToolOptions): string[] {
  const who = o.who ?? 'the build';
  const distro = hostDistro();
  let miss = missingNeeds(needs, o.env);
  if (miss.length === 0) return [];
  const { pkgs, none } = packagesFor(miss, o.env, distro);
  if (none.length) {
    throw new HostToolsError(
      `${who} needs ${describe(none, distro)}, which ${distro === 'ubuntu' ? 'Ubuntu ships only as a snap' : 'has no package here'}: ` +
        `install ${none.map((n) => n.what).join(', ')} by hand (docs/build.md, "Host tools"), then run it again`,
    );
  }
  const apt = aptRunner(o);
  const cmd = `${apt.prefix}apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
  const enable = [...new Set(miss.filter((n) => n.kind === 'binfmt').map((n) => n.what))];
  const full = enable.length
    ? `${cmd} && ${apt.prefix}update-binfmts ${enable.map((h) => `--enable ${h}`).join(' ')}`
    : cmd;
  if (!apt.run) {
    throw new HostToolsError(
      `${who} needs ${pkgs.length} Debian package(s) that are not installed: ${describe(miss, distro)}. ` +
        `It cannot install them because ${apt.why}. Run:\n  ${full}\nthen run it again. Nothing was built or written.`,
    );
  }
  const run = apt.run;
  const keep = (r: SpawnSyncReturns<string>) => {
    const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    if (o.logFile) {
      mkdirSync(join(o.logFile, '..'), { recursive: true });
      writeFileSync(o.logFile, text, { flag: 'a' });
    }
    return text;
  };
  const lock = ['-o', `DPkg::Lock::Timeout=${o.lockTimeoutS ?? 120}`];
  let updated = false;
  const update = () => {
    updated = true;
    o.log('refreshing apt package lists (apt-get update)');
    const r = run(['-q', ...lock, 'update']);
    const text = keep(r);
    if (r.status !== 0)
      throw new HostToolsError(
        `apt-get update failed while preparing to install ${pkgs.join(' ')}: ${explainAptFailure(text, full)}`,
      );
  };
  if (listsStale()) update();
  const args = ['-q', '--no-install-recommends', ...lock, 'install'];
  // Runs apt-get; when it fails the way stale lists make it fail, refreshes them (once per
  // call of ensureHostTools) and runs it again.
  const runFresh = (argv: string[], stale: RegExp) => {
    let r = run(argv);
    let text = keep(r);
    if (!updated && stale.test(text)) {
      update();
      r = run(argv);
      text = keep(r);
    }
    return { r, text };
  };
  const { r: dry, text: dryText } = runFresh(
    [...args, '--assume-no', ...pkgs],
    /Unable to locate package|has no installation candidate|404\s+Not Found/,
  );
  const size = parseAptSize(dryText);
  if (
    size.download === undefined &&
    size.count === undefined &&
    dry.status !== 0 &&
    !/Do you want to continue/.test(dryText)
  ) {
    throw new HostToolsError(
      `${who} could not plan installing ${pkgs.join(' ')}: ${explainAptFailure(dryText, full)}`,
    );
  }
  o.log(
    `installing ${pkgs.length} package(s) and their dependencies, ${size.count ?? '?'} in all (download ${size.download ?? '?'}, ` +
      `${size.disk ?? '?'} on disk): ${describe(miss, distro)}` +
      (o.logFile ? `; apt-get's output goes to ${o.logFile}` : ''),
  );
  const { r, text } = runFresh([...args, '-y', ...pkgs], /404\s+Not Found|Unable to fetch some archives/);
  if (r.status !== 0)
    throw new HostToolsError(`${who} could not install ${pkgs.join(' ')}: ${explainAptFailure(text, full)}`);
  for (const h of enable) {
    const ub = whichSbin('update-binfmts', o.env);
    const e = ub
      ? spawnSync(
          process.getuid?.() === 0 ? ub : 'sudo',
          process.getuid?.() === 0 ? ['--enable', h] : ['-n', ub, '--enable', h],
          { encoding: 'utf8' },
        )
      : undefined;
    if (!existsSync(join(BINFMT_DIR, h))) {
      throw new HostToolsError(
        `${who} needs the binfmt handler ${h} (to run foreign-arch programs in chroots) and could not enable it` +
          `${e ? `: ${(e.stderr || e.stdout || '').trim() || `exit ${e.status}`}` : ''}. Run: ${apt.prefix}update-binfmts --enable ${h} ` +
          `(inside a container: the host must have binfmt_misc mounted and qemu-user-static registered with the F flag)`,
      );
    }
  }
  miss = missingNeeds(needs, o.env);
  if (miss.length)
    throw new HostToolsError(
      `after installing ${pkgs.join(' ')}, still missing: ${describe(miss)}. Run: ${full}`,
    );
  return pkgs;
}

/** argv prefix and env to run a binary of `arch` on this (x64) host. */
export function runnerFor(arch: Arch, env: Env): { argv: string[]; env: NodeJS.ProcessEnv } {
  const a = ARCHES[arch];
  if (arch === 'x64') return { argv: [], env: { ...env } as NodeJS.ProcessEnv };
  const qemu = which(a.qemu, env) ?? a.qemu;
  return {
    argv: [qemu],
    env: {
      ...env,
      QEMU_LD_PREFIX: `/usr/${a.triplet}`,
      ...(a.qemuCpu ? { QEMU_CPU: a.qemuCpu } : {}),
    } as NodeJS.ProcessEnv,
  };
}

/** The strip for an arch's ELF files. */
export function stripFor(arch: Arch, env: Env): string {
  return which(`${ARCHES[arch].triplet}-strip`, env) ?? `${ARCHES[arch].triplet}-strip`;
}
