// The OpenWRT package payload, shared by the .ipk (24.10) and APK v3 (25.12) writers so both
// ship the SAME content: the executable with its private glibc (interpreter and rpath patched
// with patchelf AFTER postject, which would not find its place in a patched file) or the
// bundle for the feed's `node`, the procd init
// script, the UCI conffile and its translator, uci-defaults, the sysupgrade keep list, and the
// maintainer scripts (OpenWRT's default_postinst/default_prerm wrappers, docs/openwrt.md).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARCHES, type Arch } from '../../arch.ts';
import type { FileEntry } from '../tar.ts';
import { noticesFor, type BuildInputs, type PackageInfo } from '../../target.ts';
import { gzip } from '../gzip.ts';
import type { BuilderErrorCode } from '../../error-codes.ts';

const FILES = join(import.meta.dirname, 'files');

export class OpenwrtPayloadError extends Error {
  constructor(
    readonly code: BuilderErrorCode,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
  }
}

/** `{ arch }` for the standalone package, `'node'` for the bundle on the feed's node. */
export type Variant = { arch: Arch } | 'node';

export interface OpenwrtPayload {
  /** data files, paths relative to / (no leading slash), sorted by the tar writer */
  files: FileEntry[];
  /** absolute paths of conffiles (opkg keeps local edits) */
  conffiles: string[];
  /** maintainer scripts, complete shell files */
  scripts: { postinst: string; prerm: string };
  /** `Require-User:` value (default_postinst creates the user and group) */
  requireUser: string;
}

/** Device paths, in one place (docs/openwrt.md lists them). */
export function devicePaths(name: string) {
  return {
    bin: `usr/bin/${name}`,
    libDir: `usr/lib/${name}`,
    glibcDir: `usr/lib/${name}/glibc`,
    init: `etc/init.d/${name}`,
    uci: `etc/config/${name}`,
    uciDefaults: `etc/uci-defaults/90-${name}`,
    keep: `lib/upgrade/keep.d/${name}`,
    translator: `usr/share/${name}/uci2json.sh`,
    capabilities: `etc/capabilities/${name}.json`,
    /** CAP_NET_ADMIN too: transparent interception as the service user (docs/intercept.md) */
    capabilitiesIntercept: `etc/capabilities/${name}-intercept.json`,
  };
}

/** Human size for the UCI default, e.g. 134217728 → "128MiB". */
export function sizeString(bytes: number): string {
  if (bytes % 1073741824 === 0) return `${bytes / 1073741824}GiB`;
  if (bytes % 1048576 === 0) return `${bytes / 1048576}MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024}KiB`;
  return String(bytes);
}

function render(file: string, info: PackageInfo): string {
  return readFileSync(join(FILES, file), 'utf8')
    .replaceAll('@NAME@', info.name)
    .replaceAll('@MEMORY_MAX@', sizeString(info.memoryMaxBytes));
}

/**
 * OpenWRT's postinst/prerm wrappers, byte for byte as its package build (include/package-pack.mk,
 * ipk branch) writes them: only postinst has the IPKG_NO_SCRIPT guard.
 */
export function maintainerScripts(): { postinst: string; prerm: string } {
  const load =
    '[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n' + '. ${IPKG_INSTROOT}/lib/functions.sh\n';
  return {
    postinst: `#!/bin/sh\n[ "\${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n${load}default_postinst $0 $@\n`,
    prerm: `#!/bin/sh\n${load}default_prerm $0 $@\n`,
  };
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new OpenwrtPayloadError(
      'EDGEWAN_ERR_OPENWRT_PATCHELF',
      `${cmd} ${args.join(' ')} failed: ${r.error?.message ?? r.stderr.trim()} (apt-get install patchelf)`,
    );
  }
  return r.stdout;
}

/**
 * Copy the SEA executable, point its interpreter and rpath at the private glibc dir and check
 * it needs nothing else. DT_RPATH (--force-rpath), not RUNPATH: RPATH also applies to the
 * libraries' own dependencies, so nothing is ever looked up in the router's musl /lib.
 */
export function patchExecutable(
  exe: string,
  arch: Arch,
  glibcFiles: readonly string[],
  name: string,
): Buffer {
  const dir = `/${devicePaths(name).glibcDir}`;
  const tmp = mkdtempSync(join(tmpdir(), 'ewF-patch-'));
  try {
    const out = join(tmp, 'exe');
    copyFileSync(exe, out);
    run('patchelf', [
      '--set-interpreter',
      `${dir}/${ARCHES[arch].loader}`,
      '--force-rpath',
      '--set-rpath',
      dir,
      out,
    ]);
    const needed = run('patchelf', ['--print-needed', out]).split('\n').filter(Boolean);
    const missing = needed.filter((n) => !glibcFiles.includes(n));
    if (missing.length) {
      throw new OpenwrtPayloadError(
        'EDGEWAN_ERR_OPENWRT_GLIBC_SET',
        `${exe} needs ${missing.join(', ')}, which the private glibc set (scripts/glibc.ts) does not ship: add the Debian package to scripts/glibc.ts and re-pin`,
      );
    }
    return readFileSync(out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The private glibc set as files under /usr/lib/<name>/glibc (loader 0755, libraries 0644). */
export function glibcEntries(glibcDir: string, arch: Arch, name: string): FileEntry[] {
  const dir = devicePaths(name).glibcDir;
  return readdirSync(glibcDir)
    .sort()
    .map((f) => ({
      type: 'file' as const,
      path: `${dir}/${f}`,
      data: readFileSync(join(glibcDir, f)),
      mode: f === ARCHES[arch].loader ? 0o755 : 0o644,
    }));
}

/** Everything both OpenWRT package formats ship, for one variant. */
export function openwrtPayload(inputs: BuildInputs, variant: Variant, patched?: Buffer): OpenwrtPayload {
  const { info } = inputs;
  const p = devicePaths(info.name);
  const text = (path: string, s: string, mode = 0o644): FileEntry => ({
    type: 'file',
    path,
    mode,
    data: Buffer.from(s),
  });
  const files: FileEntry[] = [
    text(p.init, render('init.sh', info), 0o755),
    text(p.uci, render('config.uci', info), 0o600),
    text(p.uciDefaults, render('uci-defaults.sh', info), 0o755),
    text(p.keep, render('keep.d', info)),
    text(p.translator, render('uci2json.sh', info)),
    text(p.capabilities, render('capabilities.json', info)),
    text(p.capabilitiesIntercept, render('capabilities-intercept.json', info)),
  ];
  if (variant === 'node') {
    // The feed's node runs the bundle; the same init script and paths work unchanged.
    files.push(text(p.bin, `#!/bin/sh\nexec /usr/bin/node /${p.libDir}/${info.name}.cjs "$@"\n`, 0o755));
    files.push({
      type: 'file',
      path: `${p.libDir}/${info.name}.cjs`,
      mode: 0o644,
      data: readFileSync(inputs.bundle),
    });
    files.push({
      type: 'file',
      path: `${p.libDir}/${info.name}.cjs.LICENSES.txt`,
      mode: 0o644,
      data: readFileSync(inputs.licenses),
    });
  } else {
    const { arch } = variant;
    const exe = inputs.executables[arch];
    const glibc = inputs.glibc?.[arch];
    if (!exe || !glibc) {
      throw new OpenwrtPayloadError(
        'EDGEWAN_ERR_OPENWRT_INPUT',
        `the ${arch} OpenWRT package needs the ${arch} executable and its private glibc set (BuildInputs.executables/glibc): build with --arch ${arch}`,
      );
    }
    const libs = glibcEntries(glibc, arch, info.name);
    const data =
      patched ??
      patchExecutable(
        exe,
        arch,
        libs.map((l) => l.path.split('/').pop()!),
        info.name,
      );
    files.push({ type: 'file', path: p.bin, mode: 0o755, data }, ...libs);
    // notices of the bundle, the Node runtime and the glibc set (gzip: flash is small)
    const notices = noticesFor(inputs, arch, true);
    if (notices)
      files.push({
        type: 'file',
        path: `${p.libDir}/LICENSES.txt.gz`,
        mode: 0o644,
        data: gzip(notices),
      });
  }
  return {
    files,
    conffiles: [`/${p.uci}`],
    scripts: maintainerScripts(),
    requireUser: `${info.name}:${info.name}`,
  };
}
