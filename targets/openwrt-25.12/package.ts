// The OpenWRT 25.12 flavour of the shared payload (../files.ts): the same files as the .ipk,
// plus what OpenWRT's APK packaging adds (include/package-pack.mk in OpenWRT 25.12):
//   lib/apk/packages/<name>.list             every file, so default_postinst/default_prerm
//                                            find the init script to enable/start/stop
//   lib/apk/packages/<name>.conffiles        the conffiles (sysupgrade and `apk` keep edits)
//   lib/apk/packages/<name>.conffiles_static "/path sha256" of each shipped conffile
//   lib/apk/packages/<name>.rusers           the Require-User value add_group_and_user reads
// and the apk scripts post-install / post-upgrade (PKG_UPGRADE=1) / pre-deinstall that carry
// the ipk's default_postinst / default_prerm logic.
import type { FileEntry } from '../formats/tar.ts';
import type { ApkPackageInput } from '../formats/adb-package.ts';
import type { OpenwrtPayload } from '../formats/openwrt/files.ts';
import { sha256 } from '../formats/hash.ts';

export const APK_META_DIR = 'lib/apk/packages';

/** A script with every line that starts (after blanks) with "#!" removed. */
export function withoutShebangs(script: string): string {
  return script
    .split('\n')
    .filter((l) => !/^\s*#!/.test(l))
    .join('\n');
}

/** The three apk scripts, shaped like OpenWRT 25.12's package-pack.mk writes them. */
export function apkScripts(name: string): NonNullable<ApkPackageInput['scripts']> {
  const guard = '[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n';
  const load =
    '[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n' +
    '. ${IPKG_INSTROOT}/lib/functions.sh\n' +
    'export root="${IPKG_INSTROOT}"\n' +
    `export pkgname="${name}"\n`;
  const postInstall = `#!/bin/sh\n${guard}${load}add_group_and_user\ndefault_postinst\n`;
  return {
    'post-install': postInstall,
    // package-pack.mk: "#!/bin/sh", the export, then the post-install without its "#!" lines
    // (sed '/^\s*#!/d'). PKG_UPGRADE=1 keeps default_postinst from re-enabling the service.
    'post-upgrade': `#!/bin/sh\nexport PKG_UPGRADE=1\n${withoutShebangs(postInstall)}`,
    'pre-deinstall': `#!/bin/sh\n${load}default_prerm\n`,
  };
}

/** Payload files + the lib/apk/packages metadata OpenWRT's scripts read. */
export function apkEntries(name: string, payload: OpenwrtPayload): FileEntry[] {
  const files = payload.files.map((f) => ({ ...f, path: f.path.replace(/^\/+/, '') }));
  const meta = (n: string) => `${APK_META_DIR}/${name}.${n}`;
  const text = (n: string, s: string): FileEntry => ({
    type: 'file',
    path: meta(n),
    mode: 0o644,
    data: Buffer.from(s),
  });
  // package-pack.mk runs `find . -type f,l` after writing .rusers (so it is listed) into a
  // temporary file moved to .list afterwards (so .list does not list itself), before the
  // conffiles files are moved in (so they are not listed either).
  const listed = [
    ...files.filter((f) => f.type !== 'dir').map((f) => `/${f.path}`),
    `/${meta('rusers')}`,
  ].sort();
  // "echo $file $csum": the path, one space, the SHA-256 in hex.
  const statics = payload.conffiles.map((c) => {
    const f = files.find((x) => `/${x.path}` === c);
    if (!f || f.type !== 'file') throw new Error(`conffile ${c} is not a file of the payload`);
    return `${c} ${sha256(f.data)}\n`;
  });
  return [
    ...files,
    text('rusers', `${payload.requireUser}\n`),
    text('list', listed.map((l) => `${l}\n`).join('')),
    text('conffiles', payload.conffiles.map((c) => `${c}\n`).join('')),
    text('conffiles_static', statics.join('')),
  ];
}
