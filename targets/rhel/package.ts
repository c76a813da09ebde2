// One RHEL-family (EL 8/9, Fedora) package of the service: the same layout and contract as
// the Debian package (targets/formats/apt/package.ts), in the paths and conventions of EL:
//   /usr/bin/<name>                              the standalone executable
//   /usr/lib/systemd/system/<service>.service    the Debian unit, rendered by the same code
//   /usr/lib/sysusers.d/<name>.conf              the static system user
//   /usr/lib/<name>/resolved-dns                 the systemd-resolved hook the unit runs
//   /etc/<name>/<name>.json                      %config(noreplace), 0640 root:<name>
//   /etc/<name>/keys/                            0750 root:<name> (tunnel credentials)
//   /var/lib/<name>/                             0750 <name>:<name> (state)
//   /usr/share/licenses/<name>/                  %license: copyright and third-party notices
//   /usr/share/man/man1/<name>.1.gz              %doc
// Scriptlets behave like the systemd RPM macros of EL 8 (%systemd_post/_preun/_postun_with_restart)
// and %sysusers_create_compat: the user is made in %pre, install only applies the preset
// (EL's default preset leaves a new unit disabled: nothing starts), an upgrade try-restarts
// a running service, removal stops and disables it. Names come from PackageInfo (OEM).
import { readFileSync } from 'node:fs';
import type { PackageInfo } from '../target.ts';
import { renderManPage, wrap } from '../formats/apt/docs.ts';
import { resolvedHook } from '../formats/apt/resolved.ts';
import { renderUnit, unitPaths } from '../formats/apt/systemd.ts';
import { gzip } from '../formats/gzip.ts';
import { buildRpm, FILEFLAG, SENSE, type Dependency, type RpmFile, type RpmResult } from './rpm.ts';

/**
 * What the official Node 24 binaries link against, as rpm's elfdeps would list it
 * (checked against the executables by test/acceptance/45-rpm-dnf.test.ts): glibc 2.28 (EL 8)
 * and libstdc++ from GCC 5+, both in every EL 8 and 9 base.
 */
export const EXECUTABLE_REQUIRES: readonly string[] = [
  'libc.so.6(GLIBC_2.28)(64bit)',
  'libdl.so.2()(64bit)',
  'libgcc_s.so.1(GCC_3.4)(64bit)',
  'libm.so.6()(64bit)',
  'libpthread.so.0()(64bit)',
  'libstdc++.so.6(CXXABI_1.3.11)(64bit)',
  'libstdc++.so.6(GLIBCXX_3.4.21)(64bit)',
];

export interface RpmPackageSpec {
  info: PackageInfo;
  mtime: number;
  /** rpm arch: x86_64, aarch64 */
  rpmArch: string;
  /** the standalone executable */
  executable: string;
  notices?: Buffer;
  cacheDir?: string;
  compression?: 'xz' | 'gzip';
  sign?: Parameters<typeof buildRpm>[0]['sign'];
}

/** rpm's ISA name for arch-specific provides: edgewan(x86-64). */
const ISA: Record<string, string> = { x86_64: 'x86-64', aarch64: 'aarch-64' };

const q = (s: string) => {
  if (!/^[A-Za-z0-9+.@/_-]+$/.test(s)) throw new Error(`unsafe name in an RPM scriptlet: "${s}"`);
  return s;
};

export function sysusersConf(info: PackageInfo): string {
  return `# ${info.name}: the static system user the service runs as (sysusers.d(5))
u ${q(info.name)} - "${info.name} service" ${q(unitPaths(info).stateDir)}
`;
}

/** %pre/%post/%preun/%postun (without "#!": rpm runs them with /bin/sh, PREINPROG…). */
export function rpmScripts(info: PackageInfo): { pre: string; post: string; preun: string; postun: string } {
  const unit = q(`${info.serviceName}.service`);
  const user = q(info.name);
  const p = unitPaths(info);
  const conf = `/usr/lib/sysusers.d/${user}.conf`;
  const line = sysusersConf(info).split('\n')[1];
  const dropIn = q(resolvedHook(info).dropIn);
  return {
    // %sysusers_create_compat: systemd-sysusers where it exists, else groupadd/useradd
    pre: `if command -v systemd-sysusers >/dev/null 2>&1; then
	echo '${line}' | systemd-sysusers --replace=${conf} - >/dev/null 2>&1 || :
fi
getent group ${user} >/dev/null || groupadd -r ${user}
getent passwd ${user} >/dev/null || useradd -r -g ${user} -d ${q(p.stateDir)} -s /sbin/nologin -c '${user} service' ${user}
exit 0
`,
    // %systemd_post: on first install apply the preset only (nothing is started)
    post: `if [ "$1" -eq 1 ] && command -v systemctl >/dev/null 2>&1; then
	systemctl --no-reload preset ${unit} >/dev/null 2>&1 || :
fi
exit 0
`,
    // %systemd_preun: on removal (not upgrade) stop and disable
    preun: `if [ "$1" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
	systemctl --no-reload disable --now ${unit} >/dev/null 2>&1 || :
fi
exit 0
`,
    // %systemd_postun_with_restart: reload units; on upgrade restart a running service;
    // on removal drop the DNS coexistence drop-in should ExecStopPost not have run
    postun: `if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -ge 1 ] && [ -d /run/systemd/system ]; then
	systemctl try-restart ${unit} >/dev/null 2>&1 || :
fi
if [ "$1" -eq 0 ] && [ -e ${dropIn} ]; then
	rm -f ${dropIn}
	if [ -d /run/systemd/system ]; then
		systemctl try-restart systemd-resolved.service >/dev/null 2>&1 || :
	fi
fi
exit 0
`,
  };
}

export function renderRpmCopyright(info: PackageInfo, mtime: number, notices: string): string {
  const year = new Date(mtime * 1000).getUTCFullYear();
  return `${info.name}: ${info.description.split('\n')[0]}
Copyright ${year} ${info.vendor}
License: ${info.license}
Source: ${info.homepage}

Third-party components built into this package (the Node.js runtime and the
JavaScript libraries in the bundle) are listed with their licenses in
/usr/share/licenses/${info.name}/${notices}.
`;
}

/** "1.2.0~rc.1-1" (TargetVersions.rpm) → Version "1.2.0~rc.1", Release "1". */
export function splitRpmVersion(v: string): { version: string; release: string } {
  const cut = v.lastIndexOf('-');
  return cut < 0 ? { version: v, release: '' } : { version: v.slice(0, cut), release: v.slice(cut + 1) };
}

/** rpm's Summary: the description's first line, no final period (rpmlint summary-ended-with-dot). */
export function summaryOf(info: PackageInfo): string {
  return info.description.split('\n')[0].trim().replace(/\.$/, '');
}

export async function buildServiceRpm(spec: RpmPackageSpec): Promise<RpmResult> {
  const { info, mtime } = spec;
  const p = unitPaths(info);
  const user = info.name;
  const files: RpmFile[] = [];
  const file = (path: string, data: Buffer | string, mode = 0o644, extra: Partial<RpmFile> = {}) =>
    files.push({
      type: 'file',
      path,
      mode,
      data: typeof data === 'string' ? Buffer.from(data) : data,
      ...extra,
    });
  const dir = (path: string, mode = 0o755, extra: Partial<RpmFile> = {}) =>
    files.push({ type: 'dir', path, mode, ...extra });

  file(p.exec, readFileSync(spec.executable), 0o755);
  file(`/usr/lib/systemd/system/${info.serviceName}.service`, renderUnit(info));
  file(`/usr/lib/sysusers.d/${user}.conf`, sysusersConf(info));
  const hook = resolvedHook(info);
  dir(`/usr/lib/${user}`);
  file(hook.path, hook.script, 0o755);
  dir(`/etc/${user}`);
  file(p.config, `${JSON.stringify(info.defaultConfig, null, 2)}\n`, 0o640, {
    group: user,
    flags: FILEFLAG.CONFIG | FILEFLAG.NOREPLACE,
  });
  dir(p.keysDir, 0o750, { group: user });
  dir(p.stateDir, 0o750, { user, group: user });
  const lic = `/usr/share/licenses/${user}`;
  const notices = 'third-party-notices.txt';
  dir(lic);
  file(`${lic}/COPYRIGHT`, renderRpmCopyright(info, mtime, notices), 0o644, { flags: FILEFLAG.LICENSE });
  if (spec.notices) file(`${lic}/${notices}`, spec.notices, 0o644, { flags: FILEFLAG.LICENSE });
  file(`/usr/share/man/man1/${user}.1.gz`, gzip(Buffer.from(renderManPage(info, mtime))), 0o644, {
    flags: FILEFLAG.DOC,
  });

  const [, ...rest] = info.description.split('\n');
  const description = [
    ...(rest.join(' ').trim() ? [wrap(rest.join(' ')).join('\n')] : []),
    wrap(
      `${summaryOf(info)}. This package contains a self-contained executable (the engine and its own Node.js runtime); it needs no other runtime, only glibc 2.28 or later (EL 8 and later).`,
    ).join('\n'),
  ].join('\n\n');
  const requires: Dependency[] = [
    ...EXECUTABLE_REQUIRES.map((name) => ({ name, flags: SENSE.FIND_REQUIRES })),
    // %sysusers_requires_compat
    { name: 'shadow-utils', flags: SENSE.SCRIPT_PRE },
  ];
  const { version, release } = splitRpmVersion(info.versions.rpm);
  const evr = `${version}-${release}`;
  return buildRpm({
    name: info.name,
    version,
    release,
    arch: spec.rpmArch,
    summary: summaryOf(info),
    description,
    license: info.license,
    vendor: info.vendor,
    packager: info.maintainer,
    url: info.homepage,
    group: 'System Environment/Daemons',
    mtime,
    files,
    requires,
    provides: ISA[spec.rpmArch]
      ? [{ name: `${info.name}(${ISA[spec.rpmArch]})`, flags: SENSE.EQUAL, version: evr }]
      : [],
    scripts: rpmScripts(info),
    changelog: { name: `${info.maintainer} - ${evr}`, text: `- Release ${info.versions.semver}.` },
    compression: spec.compression,
    cacheDir: spec.cacheDir,
    sign: spec.sign,
  });
}
