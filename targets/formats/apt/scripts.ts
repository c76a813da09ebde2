// Maintainer scripts for the Debian-family packages, modelled on what debhelper generates
// (dh_installsystemd, dh_installdeb) so lintian and dpkg see familiar code:
// - postinst configure: static system user (adduser --system --group), state dir, keys dir
//   0750 root:<user>, config 0640 root:<user> (it may hold the admin token), then enable
//   the unit and start it on install / restart it on upgrade — only when systemd runs
//   (a chroot or an image build has no /run/systemd/system, so nothing starts there);
// - prerm remove: stop the service; upgrades keep it running until postinst restarts it;
// - postrm remove: mask as debhelper does; purge: forget the unit, delete the state dir
//   and the keys (dpkg itself deletes the conffile). The system user stays, as Debian
//   policy advises (files owned by a reused uid would be a security risk). remove also
//   drops the DNS coexistence drop-in should the unit's ExecStopPost not have run
//   (targets/formats/apt/resolved.ts).
// init-system-helpers (deb-systemd-helper, deb-systemd-invoke) is Essential in bookworm.
import type { PackageInfo } from '../../target.ts';
import { resolvedHook } from './resolved.ts';
import { unitPaths } from './systemd.ts';
import { DEFAULT_TABLE, interceptFiles, removeTableShell } from './intercept.ts';

// Names are validated as Debian package names ([a-z0-9+.-]) before rendering, so paths
// need no quoting — and lintian's adduser check only recognises an unquoted --home path.
const sh = (s: string) => {
  if (!/^[A-Za-z0-9+.@/_-]+$/.test(s)) throw new Error(`unsafe name in maintainer script: "${s}"`);
  return s;
};

export function maintainerScripts(info: PackageInfo) {
  const unit = sh(`${info.serviceName}.service`);
  const user = sh(info.name);
  const p = unitPaths(info);
  const dropIn = resolvedHook(info).dropIn;
  const icpt = interceptFiles(info);
  const postinst = `#!/bin/sh
set -e

if [ "$1" = "configure" ]; then
	if ! getent passwd ${user} >/dev/null; then
		adduser --quiet --system --group --no-create-home --home ${sh(p.stateDir)} ${user}
	fi
	# the state dir normally comes from StateDirectory=; create it for roots without systemd
	install -d -o ${user} -g ${user} -m 0750 ${sh(p.stateDir)}
	# tunnel credentials: readable by the service, not by other users (0750, not shipped
	# in data.tar so dpkg never resets its mode)
	install -d -o root -g ${user} -m 0750 ${sh(p.keysDir)}
	if [ -f ${sh(p.config)} ]; then
		chown root:${user} ${sh(p.config)}
		chmod 0640 ${sh(p.config)}
	fi
fi

if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	# This will only remove masks created by d-s-h on package removal.
	deb-systemd-helper unmask ${unit} >/dev/null || true
	# was-enabled defaults to true, so new installations run enable.
	if deb-systemd-helper --quiet was-enabled ${unit}; then
		deb-systemd-helper enable ${unit} >/dev/null || true
	else
		deb-systemd-helper update-state ${unit} >/dev/null || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "$2" ]; then
			_action=restart
		else
			_action=start
		fi
		deb-systemd-invoke $_action ${unit} >/dev/null || true
	fi
fi

exit 0
`;
  const prerm = `#!/bin/sh
set -e

if [ -z "\${DPKG_ROOT:-}" ] && [ "$1" = remove ] && [ -d /run/systemd/system ] ; then
	deb-systemd-invoke stop ${unit} >/dev/null || true
	# interception: the engine's table goes with the package, fail-closed too (docs/intercept.md)
	${sh(icpt.hook)} remove >/dev/null 2>&1 || true
fi

exit 0
`;
  const postrm = `#!/bin/sh
set -e

if [ "$1" = remove ] && [ -d /run/systemd/system ] ; then
	systemctl --system daemon-reload >/dev/null || true
fi

if [ "$1" = "remove" ]; then
	if [ -x "/usr/bin/deb-systemd-helper" ]; then
		deb-systemd-helper mask ${unit} >/dev/null || true
	fi
	# intercept table: begin (prerm removed a table of another name; this is the default one,
	# on a running system only: a chroot's nft would change the host's ruleset)
	if [ -z "\${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
${removeTableShell(DEFAULT_TABLE, '		')}	fi
	# intercept table: end
	# the unit's ExecStopPost already removed the DNS coexistence drop-in; make sure
	if [ -e ${sh(dropIn)} ]; then
		rm -f ${sh(dropIn)}
		if [ -d /run/systemd/system ]; then
			deb-systemd-invoke try-restart systemd-resolved.service >/dev/null || true
		fi
	fi
fi

if [ "$1" = "purge" ]; then
	if [ -x "/usr/bin/deb-systemd-helper" ]; then
		deb-systemd-helper purge ${unit} >/dev/null || true
		deb-systemd-helper unmask ${unit} >/dev/null || true
	fi
	rm -rf ${sh(p.stateDir)} ${sh(p.keysDir)}
	# the admin's link to the interception drop-in (docs/intercept.md) points at nothing now
	if [ -L ${sh(icpt.adminDropIn)} ]; then
		rm -f ${sh(icpt.adminDropIn)}
		rmdir --ignore-fail-on-non-empty ${sh(icpt.adminDropIn.replace(/\/[^/]+$/, ''))} 2>/dev/null || true
	fi
fi

exit 0
`;
  return { postinst, prerm, postrm };
}
