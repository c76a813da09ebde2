// The Debian side of the DNS coexistence (docs/dns.md): systemd-resolved keeps port 53 and
// forwards every name (`Domains=~.`) to our cache — but only while our service runs with
// `dns.enabled`. Users enable DNS by editing /etc/<name>/<name>.json after install, so the
// decision cannot be made when the package is built. The package therefore always ships
// this small hook, and the unit runs it as root (`+`) after start and reload and after
// stop: it reads the live config through `<name> print-config` (defaults filled in), waits
// until the DNS port is bound, and writes or removes a RUNTIME drop-in in
// /run/systemd/resolved.conf.d/ (gone at reboot, never a stale conffile), restarting
// systemd-resolved only when the drop-in changed. Fail-open: when the engine stops, fails
// or DNS is turned off, resolved goes back to its own servers — a branch box never loses
// name resolution because of us. An admin opts out with systemd's usual mask:
// `ln -s /dev/null /etc/systemd/resolved.conf.d/<name>-dns.conf` (/etc wins over /run).
import type { PackageInfo } from '../../target.ts';
import { unitPaths } from './systemd.ts';

export interface ResolvedHook {
  /** absolute path of the hook in the package */
  path: string;
  /** the runtime drop-in it manages */
  dropIn: string;
  /** the admin's override path that disables the hook (mask with /dev/null) */
  adminDropIn: string;
  script: string;
}

export function resolvedHook(info: PackageInfo): ResolvedHook {
  const p = unitPaths(info);
  const path = `/usr/lib/${info.name}/resolved-dns`;
  const dropIn = `/run/systemd/resolved.conf.d/${info.name}-dns.conf`;
  const adminDropIn = `/etc/systemd/resolved.conf.d/${info.name}-dns.conf`;
  // awk reads print-config's JSON (JSON.stringify with 2 spaces, a stable shape checked by
  // test/unit/deb-resolved.test.ts against the real engine): inside the top-level "dns"
  // object, is "enabled" true, and what is the first "listen" entry?
  const script = `#!/bin/sh
# ${info.name}: while ${info.serviceName}.service runs with dns.enabled, systemd-resolved
# forwards every name to the ${info.name} DNS cache (${info.homepage}: docs/debian.md).
# Run by the unit as root: "start" after start and reload, "stop" after stop.
# Opt out: ln -s /dev/null ${adminDropIn}
set -u
# the unit's UMask=0027 applies here too, but systemd-resolved reads its drop-ins as the
# unprivileged systemd-resolve user: the file must be world-readable (found by the real test)
umask 022
DROPIN=${dropIn}
ADMIN=${adminDropIn}

# first dns.listen address when dns.enabled is true; nothing otherwise
dns_address() {
	${p.exec} print-config ${p.config} 2>/dev/null | awk '
		/^  "dns": \\{$/ { dns = 1; next }
		dns && /^  }/ { dns = 0 }
		dns && /^    "enabled": true,?$/ { on = 1 }
		dns && /^    "listen": \\[$/ { list = 1; next }
		list && /^      "/ { if (addr == "") { addr = $1; gsub(/[",]/, "", addr) } next }
		list { list = 0 }
		END { if (on && addr != "") print addr }'
}

# the engine binds its port within a second or two of starting; resolved must not be
# pointed at a port nobody listens on (it would mark the server failed), so wait up to 10 s
port_bound() {
	hex=$(printf '%04X' "$1")
	i=0
	while [ "$i" -lt 50 ]; do
		if awk -v p=":$hex" 'substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' /proc/net/udp /proc/net/udp6 2>/dev/null; then
			return 0
		fi
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

restart_resolved() {
	# --no-block: this runs inside our own start/stop job; waiting for another job could stall it
	systemctl --no-block try-restart systemd-resolved.service >/dev/null 2>&1 || true
}

remove() {
	if [ -e "$DROPIN" ]; then
		rm -f "$DROPIN"
		restart_resolved
	fi
}

case "\${1:-}" in
start)
	addr=$(dns_address)
	if [ -z "$addr" ] || [ -e "$ADMIN" ] || [ -L "$ADMIN" ]; then
		remove
		exit 0
	fi
	case "$addr" in
	0.0.0.0:*) addr="127.0.0.1:\${addr#0.0.0.0:}" ;;
	"[::]:"*) addr="[::1]:\${addr#\\[::\\]:}" ;;
	esac
	if ! port_bound "\${addr##*:}"; then
		echo "${info.name}: DNS port of $addr not bound after 10 s; systemd-resolved left unchanged" >&2
		remove
		exit 0
	fi
	text="# written by ${path} while ${info.serviceName}.service runs with dns.enabled
[Resolve]
DNS=$addr
Domains=~."
	if [ -f "$DROPIN" ] && [ "$(cat "$DROPIN")" = "$text" ]; then
		exit 0
	fi
	mkdir -p "\${DROPIN%/*}"
	printf '%s\\n' "$text" >"$DROPIN.tmp"
	mv -f "$DROPIN.tmp" "$DROPIN"
	restart_resolved
	;;
stop)
	remove
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
exit 0
`;
  return { path, dropIn, adminDropIn, script };
}
