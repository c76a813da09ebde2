// Assembles one Debian-family binary package of the service: the standalone executable
// (debian amd64/arm64, raspbian arm64) or the Node bundle on the distribution's nodejs
// (raspbian `all`, for 32-bit Raspberry Pi OS). Everything else — unit, conffile, keys dir,
// maintainer scripts, docs — is the same in both flavours. Names come from PackageInfo.
import { readFileSync } from 'node:fs';
import type { PackageInfo } from '../../target.ts';
import { buildDeb } from '../deb.ts';
import { gzip } from '../gzip.ts';
import { checkMaintainer } from '../deb-control.ts';
import type { FileEntry } from '../tar.ts';
import { renderChangelog, renderCopyright, renderLintianOverrides, renderManPage, wrap } from './docs.ts';
import { maintainerScripts } from './scripts.ts';
import { resolvedHook } from './resolved.ts';
import { interceptFiles } from './intercept.ts';
import { renderUnit, unitPaths } from './systemd.ts';

export type Payload = { kind: 'executable'; path: string } | { kind: 'bundle'; path: string };

export interface PackageSpec {
  info: PackageInfo;
  mtime: number;
  /** dpkg architecture: amd64, arm64, all */
  debArch: string;
  payload: Payload;
  /** license notices of what the package ships (BuildInputs: noticesFor — the bundle's plus the Node runtime's) */
  notices?: Buffer;
  /** extra files added to data.tar as they are */
  extraFiles?: readonly FileEntry[];
  cacheDir?: string;
  dataCompression?: 'xz' | 'gzip';
}

/** Minimum Node for the bundle (docs/contract.md "Runtimes"). */
export const BUNDLE_NODE_DEPENDS = 'nodejs (>= 18)';
// Official Node 20/22 Linux binaries need glibc 2.28 and GLIBCXX_3.4.26 (docs/platform-notes.md §1).
export const EXECUTABLE_DEPENDS = 'libc6 (>= 2.28), libgcc-s1 (>= 3.0), libstdc++6 (>= 9)';
export const NOTICES = 'third-party-notices.txt.gz';

export function debFileName(info: PackageInfo, debArch: string): string {
  // Debian's pool names drop the epoch (none here) and keep name_version_arch.deb
  return `${info.name}_${info.versions.deb}_${debArch}.deb`;
}

function description(info: PackageInfo, payload: Payload): string {
  const [synopsis, ...rest] = info.description.split('\n');
  const flavour =
    payload.kind === 'executable'
      ? 'This package contains a self-contained executable (the engine and its own Node.js runtime); it needs no other runtime.'
      : "This package runs the engine on the distribution's Node.js (18 or later) and contains no native code, so it serves every Raspberry Pi OS architecture including ARMv6 (Pi Zero and Pi 1), where it is untested.";
  const body = [
    ...(rest.join(' ').trim() ? [wrap(rest.join(' ')).join('\n')] : []),
    wrap(flavour).join('\n'),
  ];
  return `${synopsis}\n${body.join('\n\n')}`;
}

export async function buildServiceDeb(spec: PackageSpec) {
  const { info, mtime, payload } = spec;
  checkMaintainer(info.maintainer);
  const p = unitPaths(info);
  const doc = `usr/share/doc/${info.name}`;
  const files: FileEntry[] = [];
  const file = (path: string, data: Buffer | string, mode = 0o644) =>
    files.push({ type: 'file', path, mode, data: typeof data === 'string' ? Buffer.from(data) : data });

  if (payload.kind === 'executable') {
    file(p.exec, readFileSync(payload.path), 0o755);
  } else {
    const lib = `/usr/lib/${info.name}/${info.name}.cjs`;
    file(lib, readFileSync(payload.path));
    file(
      p.exec,
      `#!/bin/sh
# ${info.name}: runs the bundle on the distribution's Node.js (>= 18).
exec /usr/bin/node ${lib} "$@"
`,
      0o755,
    );
  }
  file(
    `usr/share/lintian/overrides/${info.name}`,
    renderLintianOverrides(info, payload.kind === 'executable' ? p.exec : undefined),
  );
  // /lib, not /usr/lib: bookworm's lintian and debhelper still expect units there.
  const icpt = interceptFiles(info);
  file(`lib/systemd/system/${info.serviceName}.service`, renderUnit(info, { interceptHook: icpt.hook }));
  file(p.config, `${JSON.stringify(info.defaultConfig, null, 2)}\n`);
  file(`${doc}/copyright`, renderCopyright(info, mtime, NOTICES));
  file(`${doc}/changelog.Debian.gz`, gzip(Buffer.from(renderChangelog(info, mtime))));
  if (spec.notices) file(`${doc}/${NOTICES}`, gzip(spec.notices));
  file(`usr/share/man/man1/${info.name}.1.gz`, gzip(Buffer.from(renderManPage(info, mtime))));
  // DNS coexistence with systemd-resolved, always shipped: it acts only while the service
  // runs with dns.enabled (targets/formats/apt/resolved.ts), which users set after install.
  file(resolvedHook(info).path, resolvedHook(info).script, 0o755);
  // Interception: the stop hook the unit runs and the capability drop-in an admin links in
  // when enabling it (targets/formats/apt/intercept.ts); neither acts while interception is off.
  file(icpt.hook, icpt.hookScript, 0o755);
  file(icpt.dropIn, icpt.dropInText);
  for (const f of spec.extraFiles ?? []) files.push(f);

  const depends = ['adduser', payload.kind === 'executable' ? EXECUTABLE_DEPENDS : BUNDLE_NODE_DEPENDS].join(
    ', ',
  );
  return buildDeb({
    control: [
      ['Package', info.name],
      ['Version', info.versions.deb],
      ['Architecture', spec.debArch],
      ['Maintainer', info.maintainer],
      ['Depends', depends],
      ['Section', 'net'],
      ['Priority', 'optional'],
      ['Homepage', info.homepage],
      ['Description', description(info, payload)],
    ],
    files,
    conffiles: [p.config],
    scripts: maintainerScripts(info),
    mtime,
    dataCompression: spec.dataCompression ?? 'xz',
    cacheDir: spec.cacheDir,
  });
}
