// The image's file system, as two layers of tar entries:
//   base — the glibc libraries the executable links (the ELF closure, nothing more), a
//          minimal passwd/group with the non-root user, nsswitch.conf, /tmp and the state
//          dir. It does not depend on our version, so registries and hosts share it.
//   app  — the executable, the default config (memory.limit "auto") and license notices.
// No CA certificates: the engine's tunnels pin their peer's certificate or PSK and never
// consult system roots (docs/contract.md "Keys and signatures"), so /etc/ssl would be dead weight.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { FileEntry } from '../../targets/formats/tar.ts';
import { ARCHES, type Arch } from '../../targets/arch.ts';
import { parseElf } from '../../targets/formats/elf.ts';

/** uid/gid of the service user inside the image: high, so it owns nothing on a host bind mount by accident. */
export const IMAGE_UID = 10001;
export const STATE_DIR = '/var/lib/edgewan';
export const CONFIG_PATH = '/etc/edgewan/edgewan.json';
export const EXE_PATH = '/usr/bin/edgewan';

export class RootfsError extends Error {
  readonly code = 'EDGEWAN_ERR_OCI_ROOTFS';
}

/** Index every regular file (following symlinks) under dir by its base name. */
function indexLibs(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      } // dangling symlink
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && !out.has(name)) out.set(name, realpathSync(p));
    }
  };
  walk(dir);
  return out;
}

/**
 * The libraries `exe` needs, transitively, taken from glibcDir (any layout: F's pinned
 * Debian extraction or a cross sysroot), placed where Debian puts them, plus the
 * interpreter link at the exact path the executable's PT_INTERP names.
 */
export function glibcEntries(arch: Arch, exe: Buffer, glibcDir: string): FileEntry[] {
  const a = ARCHES[arch];
  const elf = parseElf(exe, `executable for ${arch}`);
  if (elf.machine !== a.elfMachine || elf.elfClass !== a.elfClass) {
    throw new RootfsError(
      `executable for ${arch} is ELF machine ${elf.machine} class ${elf.elfClass}, expected ${a.elfMachine}/${a.elfClass}: rebuild dist/bin/${a.executable}`,
    );
  }
  if (!elf.interpreter)
    throw new RootfsError(
      `executable for ${arch} has no PT_INTERP: a static or patched binary cannot use the image's base layer`,
    );
  if (!existsSync(glibcDir)) throw new RootfsError(`glibc directory for ${arch} not found: ${glibcDir}`);
  const libs = indexLibs(glibcDir);
  const libDir = `lib/${a.triplet}`;
  const entries: FileEntry[] = [];
  const seen = new Set<string>();
  const queue = [basename(elf.interpreter), ...elf.needed];
  while (queue.length > 0) {
    const so = queue.shift()!;
    if (seen.has(so)) continue;
    seen.add(so);
    const src = libs.get(so);
    if (!src)
      throw new RootfsError(
        `${so} (needed by the ${arch} executable) is missing from ${glibcDir}: add its Debian package to scripts/glibc.ts`,
      );
    const data = readFileSync(src);
    entries.push({ type: 'file', path: `${libDir}/${so}`, mode: 0o755, data });
    queue.push(...parseElf(data, src).needed);
  }
  const interp = elf.interpreter.replace(/^\/+/, '');
  if (interp !== `${libDir}/${basename(interp)}`) {
    const depth = interp.split('/').length - 1;
    entries.push({
      type: 'symlink',
      path: interp,
      target: `${'../'.repeat(depth)}${libDir}/${basename(interp)}`,
    });
  }
  return entries;
}

/**
 * Copyright files of the Debian packages the libraries came from (LGPL/GPL notices ride
 * with the binaries). scripts/glibc.ts keeps them in "<dir>.json" beside the library dir.
 */
function noticeEntries(glibcDir: string): FileEntry[] {
  const meta = `${glibcDir.replace(/\/+$/, '')}.json`;
  if (!existsSync(meta)) return [];
  const notices =
    (JSON.parse(readFileSync(meta, 'utf8')) as { notices?: Record<string, string> }).notices ?? {};
  return Object.keys(notices)
    .sort()
    .map((pkg) => ({
      type: 'file' as const,
      path: `usr/share/doc/${pkg}/copyright`,
      mode: 0o644,
      data: Buffer.from(notices[pkg]),
    }));
}

/** The version-independent base layer. */
export function baseEntries(arch: Arch, exe: Buffer, glibcDir: string, user: string): FileEntry[] {
  const u = IMAGE_UID;
  const text = (s: string) => Buffer.from(s);
  return [
    ...glibcEntries(arch, exe, glibcDir),
    ...noticeEntries(glibcDir),
    {
      type: 'file',
      path: 'etc/passwd',
      mode: 0o644,
      data: text(
        `root:x:0:0:root:/root:/usr/sbin/nologin\n${user}:x:${u}:${u}:${user}:${STATE_DIR}:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
      ),
    },
    {
      type: 'file',
      path: 'etc/group',
      mode: 0o644,
      data: text(`root:x:0:\n${user}:x:${u}:\nnogroup:x:65534:\n`),
    },
    // glibc's built-in default without this file asks DNS before /etc/hosts.
    {
      type: 'file',
      path: 'etc/nsswitch.conf',
      mode: 0o644,
      data: text('passwd: files\ngroup: files\nhosts: files dns\n'),
    },
    { type: 'dir', path: 'etc', mode: 0o755 },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'dir', path: 'var/lib/edgewan', mode: 0o750, uid: u, gid: u },
  ];
}

/** The per-version layer: executable, default config, notices. */
export function appEntries(
  exe: Buffer,
  config: Record<string, unknown>,
  licenses: Buffer | undefined,
  name: string,
): FileEntry[] {
  const out: FileEntry[] = [
    { type: 'file', path: EXE_PATH, mode: 0o755, data: exe },
    { type: 'dir', path: 'etc/edgewan', mode: 0o755 },
    {
      type: 'file',
      path: CONFIG_PATH,
      mode: 0o644,
      data: Buffer.from(`${JSON.stringify(config, null, 2)}\n`),
    },
  ];
  if (licenses)
    out.push({ type: 'file', path: `usr/share/doc/${name}/LICENSES.txt`, mode: 0o644, data: licenses });
  return out;
}

/** The shipped default config adapted to containers: cgroup-sized memory, state on the volume. */
export function imageConfig(defaultConfig: Record<string, unknown>): Record<string, unknown> {
  const c = structuredClone(defaultConfig) as Record<string, unknown>;
  const memory = (c.memory && typeof c.memory === 'object' ? c.memory : {}) as Record<string, unknown>;
  c.memory = { ...memory, limit: 'auto' };
  c.stateDir = STATE_DIR;
  return c;
}
