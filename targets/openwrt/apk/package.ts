// The OpenWRT 25.12 flavour of the shared payload (../files.ts): the same files as the .ipk,
// plus what OpenWRT's APK packaging adds (include/package-pack.mk in OpenWRT 25.12):
//   lib/apk/packages/<name>.list             every file, so default_postinst/default_prerm
//                                            find the init script to enable/start/stop
//   lib/apk/packages/<name>.conffiles        the conffiles (sysupgrade and `apk` keep edits)
//   lib/apk/packages/<name>.conffiles_static "sha256  /path" of each shipped conffile
//   lib/apk/packages/<name>.rusers           the Require-User value add_group_and_user reads
// and the apk scripts post-install / post-upgrade (PKG_UPGRADE=1) / pre-deinstall that carry
// the ipk's default_postinst / default_prerm logic.
import { createHash } from 'node:crypto';
import type { FileEntry } from '../../formats/tar.ts';
import type { ApkPackageInput } from '../../formats/adb-package.ts';
import type { OpenwrtPayload } from '../files.ts';

export const APK_META_DIR = 'lib/apk/packages';

/** The three apk scripts, shaped like OpenWRT 25.12's package-pack.mk writes them. */
export function apkScripts(name: string): NonNullable<ApkPackageInput['scripts']> {
  const guard = '[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n';
  const load = '[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n' +
    '. ${IPKG_INSTROOT}/lib/functions.sh\n' +
    'export root="${IPKG_INSTROOT}"\n' +
    `export pkgname="${name}"\n`;
  const install = `${guard}${load}add_group_and_user\ndefault_postinst\n`;
  return {
    'post-install': `#!/bin/sh\n${install}`,
    // An upgrade must not re-enable a service the admin disabled: default_postinst checks it.
    'post-upgrade': `#!/bin/sh\nexport PKG_UPGRADE=1\n${install}`,
    'pre-deinstall': `#!/bin/sh\n${load}default_prerm\n`,
  };
}

/** Payload files + the lib/apk/packages metadata OpenWRT's scripts read. */
export function apkEntries(name: string, payload: OpenwrtPayload): FileEntry[] {
  const files = payload.files.map((f) => ({ ...f, path: f.path.replace(/^\/+/, '') }));
  const listed = files.filter((f) => f.type !== 'dir').map((f) => `/${f.path}`).sort();
  const text = (n: string, s: string): FileEntry => ({ type: 'file', path: `${APK_META_DIR}/${name}.${n}`, mode: 0o644, data: Buffer.from(s) });
  const statics = payload.conffiles.map((c) => {
    const f = files.find((x) => `/${x.path}` === c);
    if (!f || f.type !== 'file') throw new Error(`conffile ${c} is not a file of the payload`);
    return `${createHash('sha256').update(f.data).digest('hex')}  ${c}\n`;
  });
  return [
    ...files,
    text('list', listed.map((l) => `${l}\n`).join('')),
    text('conffiles', payload.conffiles.map((c) => `${c}\n`).join('')),
    text('conffiles_static', statics.join('')),
    text('rusers', `${payload.requireUser}\n`),
  ];
}
