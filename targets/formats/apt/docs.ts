// Documentation files Debian policy and lintian expect in every binary package:
// /usr/share/doc/<pkg>/copyright (machine-readable, DEP-5), changelog.Debian.gz, a manual
// page for the /usr/bin program, and the lintian overrides with their justification.
// All rendered from PackageInfo and the build's mtime, so OEM rebrands carry through.
import type { PackageInfo } from '../../target.ts';
import { unitPaths } from './systemd.ts';

/** RFC 2822 date as debian/changelog wants ("Thu, 01 Jan 2026 00:00:00 +0000"). */
export function rfc2822(mtime: number): string {
  return new Date(mtime * 1000).toUTCString().replace('GMT', '+0000');
}

/** Word-wrap prose for control and copyright continuation lines (≤ 72 columns). */
export function wrap(text: string, width = 72): string[] {
  const out: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + w.length > width) {
      out.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(line);
  return out;
}

const COMMON_LICENSES: Record<string, string> = {
  'Apache-2.0': 'Apache-2.0',
  'GPL-2.0': 'GPL-2',
  'GPL-3.0': 'GPL-3',
  'MPL-2.0': 'MPL-2.0',
};

export function renderCopyright(info: PackageInfo, mtime: number, notices: string): string {
  const year = new Date(mtime * 1000).getUTCFullYear();
  const common = COMMON_LICENSES[info.license];
  const licenseBody = common
    ? ` On Debian systems, the full text of this license can be found in\n /usr/share/common-licenses/${common}.`
    : ` See ${info.homepage} for the full text of this license.`;
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ${info.name}
Upstream-Contact: ${info.maintainer}
Source: ${info.homepage}
Comment: Third-party components built into this package (the Node.js runtime where
 present, and the JavaScript libraries in the bundle) are listed with their
 licenses in /usr/share/doc/${info.name}/${notices}.

Files: *
Copyright: ${year} ${info.vendor}
License: ${info.license}
${licenseBody}
`;
}

export function renderChangelog(info: PackageInfo, mtime: number): string {
  return `${info.name} (${info.versions.deb}) stable; urgency=medium

  * Release ${info.versions.semver}.

 -- ${info.maintainer}  ${rfc2822(mtime)}
`;
}

const roff = (s: string) =>
  s
    .replace(/\\/g, '\\\\')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');

export function renderManPage(info: PackageInfo, mtime: number): string {
  const p = unitPaths(info);
  const date = new Date(mtime * 1000).toISOString().slice(0, 10);
  const n = roff(info.name);
  return `.TH ${info.name.toUpperCase()} 1 "${date}" "${n} ${roff(info.versions.semver)}" "User Commands"
.SH NAME
${n} \\- ${roff(info.description.split('\n')[0])}
.SH SYNOPSIS
.B ${n} run \\-\\-config
.I FILE
.br
.B ${n} check\\-config
.I FILE
.br
.B ${n} print\\-config
.I FILE
.br
.B ${n} keygen \\-\\-out
.I DIR
.br
.B ${n} healthcheck
.RB [ \\-\\-config
.IR FILE ]
.br
.B ${n} \\-\\-version
.SH DESCRIPTION
.B ${n}
runs as the systemd service
.BR ${roff(info.serviceName)}.service ,
as the system user
.BR ${n} .
Exit status 78 means the configuration is invalid; systemd does not restart the
service then.
.SH FILES
.TP
.I ${roff(p.config)}
configuration (a conffile, kept across upgrades)
.TP
.I ${roff(p.keysDir)}
tunnel credentials, written by
.B ${n} keygen
.TP
.I ${roff(p.stateDir)}
state and caches, removed on purge
.SH SEE ALSO
.BR systemctl (1),
.BR journalctl (1),
.UR ${info.homepage}
.UE
`;
}

/**
 * lintian overrides for the standalone-executable packages. Each has its reason beside it:
 * lintian's overrides file allows "#" comments, and they are what a reviewer reads.
 */
export function renderLintianOverrides(info: PackageInfo, exec?: string): string {
  const changelog = `# Not uploaded to Debian: the changelog has no Debian bug to close.
${info.name}: initial-upload-closes-no-bugs [usr/share/doc/${info.name}/changelog.Debian.gz:1]
`;
  if (!exec) return changelog;
  return `${changelog}# The executable is the official Node.js runtime with our code appended (a Node
# single executable application). Node links zlib statically into its binary (it ships
# its own patched copy, with SIMD and the deflate changes Node's zlib API depends on),
# so the package cannot use Debian's libz without rebuilding Node itself.
${info.name}: embedded-library zlib [${exec.replace(/^\//, '')}]
# The official Node.js Linux binaries are linked as position-dependent executables; the
# package ships them unmodified (apart from the appended application), so no PIE.
${info.name}: hardening-no-pie [${exec.replace(/^\//, '')}]
`;
}
