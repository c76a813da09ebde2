// The Debian side of transparent interception (docs/intercept.md): the engine applies and
// removes its own nftables table (`inet edgewan`, intercept.table) and needs CAP_NET_ADMIN
// for it, which the shipped unit does not grant. So the package ships:
// - a capability drop-in, NOT active by default (`/usr/lib/<name>/systemd/intercept.conf`):
//   an admin who enables interception links it into /etc/systemd/system/<service>.service.d/,
//   so a box that never intercepts never runs with CAP_NET_ADMIN;
// - a hook the unit runs as root after every stop (`ExecStopPost=-+… stop`): a fail-open
//   edge's table must not outlive the engine, also when the engine died without removing it
//   (SIGKILL, OOM, a failed start); a fail-closed table is left, as the engine leaves it;
// - `remove` of the same hook in prerm and a last removal in postrm, so uninstalling the
//   package never leaves a table that redirects to a port nobody listens on.
// The hook reads the live config through `<name> print-config` (defaults filled in; the
// same stable 2-space JSON shape as targets/formats/apt/resolved.ts reads).
import type { PackageInfo } from '../../target.ts';
import { unitPaths } from './systemd.ts';

/** The engine's default table name (engine/schema/config.schema.json intercept.table). */
export const DEFAULT_TABLE = 'edgewan';

export interface InterceptFiles {
  /** absolute path of the hook */
  hook: string;
  hookScript: string;
  /** absolute path of the shipped (inactive) capability drop-in */
  dropIn: string;
  dropInText: string;
  /** where an admin links it to activate it */
  adminDropIn: string;
}

/**
 * Shell lines that delete `inet TABLE` in one nft transaction (adding it first makes the
 * delete succeed whether or not it exists), doing nothing without nft.
 */
export function removeTableShell(table: string, indent = ''): string {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(table)) throw new Error(`unsafe nftables table name "${table}"`);
  return (
    `${indent}if command -v nft >/dev/null 2>&1; then\n` +
    `${indent}\tprintf 'table inet ${table}\\ndelete table inet ${table}\\n' | nft -f - || true\n` +
    `${indent}fi\n`
  );
}

export function interceptFiles(info: PackageInfo): InterceptFiles {
  const p = unitPaths(info);
  const hook = `/usr/lib/${info.name}/intercept-table`;
  const dropIn = `/usr/lib/${info.name}/systemd/intercept.conf`;
  const adminDropIn = `/etc/systemd/system/${info.serviceName}.service.d/intercept.conf`;
  const hookScript = `#!/bin/sh
# ${info.name}: the engine's nftables table for transparent interception (docs/intercept.md).
# "stop" (the unit's ExecStopPost, as root): delete the table of a fail-open edge, also after
# a crash; a fail-closed table stays (it rejects the intercepted destinations on purpose).
# "remove" (prerm on package removal): delete it in either mode.
set -u
mode=\${1:-stop}
case "$mode" in
stop|remove) ;;
*) echo "usage: $0 stop|remove" >&2; exit 2 ;;
esac
command -v nft >/dev/null 2>&1 || exit 0

# intercept.table and intercept.failClosed of the live config ("${DEFAULT_TABLE}" and fail-open
# when the config cannot be read: the table then most likely redirects to a dead port)
settings=$(${p.exec} print-config ${p.config} 2>/dev/null | awk '
	/^  "intercept": \\{$/ { on = 1; next }
	on && /^  }/ { on = 0 }
	on && /^    "failClosed": true,?$/ { closed = 1 }
	on && /^    "table": "[A-Za-z][A-Za-z0-9_]*",?$/ { t = $2; gsub(/[",]/, "", t) }
	END { printf "%s %s\\n", (t == "" ? "${DEFAULT_TABLE}" : t), (closed ? "closed" : "open") }')
table=\${settings%% *}
policy=\${settings#* }
case "$table" in
''|*[!A-Za-z0-9_]*) table=${DEFAULT_TABLE} ;;
esac
[ "$mode" = stop ] && [ "$policy" = closed ] && exit 0
printf 'table inet %s\\ndelete table inet %s\\n' "$table" "$table" | nft -f -
`;
  const dropInText = `# ${info.name}: transparent interception (docs/intercept.md). Not active as shipped; enable with
#   mkdir -p ${adminDropIn.replace(/\/[^/]+$/, '')}
#   ln -s ${dropIn} ${adminDropIn}
#   systemctl daemon-reload && systemctl restart ${info.serviceName}
# The engine runs nft (its own table) and conntrack (original destinations over netlink:
# /proc/net stays hidden by ProcSubset=pid) as user ${info.name}; both need CAP_NET_ADMIN.
[Service]
AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_ADMIN
CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_ADMIN
`;
  return { hook, hookScript, dropIn, dropInText, adminDropIn };
}
