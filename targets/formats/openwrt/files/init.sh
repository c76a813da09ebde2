#!/bin/sh /etc/rc.common
# procd service for @NAME@ (written by edgewan-build; docs/openwrt.md).
# The UCI config /etc/config/@NAME@ is translated to the engine's JSON at every start, then
# checked with `@NAME@ check-config`: on any error nothing is started (no procd instance, so
# procd has nothing to respawn) and the reason is logged with the UCI option's name.
# shellcheck shell=dash

# shellcheck disable=SC2034 # read by /etc/rc.common
START=95
# shellcheck disable=SC2034
STOP=10
# shellcheck disable=SC2034
USE_PROCD=1
# shellcheck disable=SC2034
EXTRA_COMMANDS="translate"
# shellcheck disable=SC2034
EXTRA_HELP="	translate	Print the engine JSON translated from /etc/config/@NAME@"

NAME=@NAME@
PROG=/usr/bin/@NAME@
RUNDIR=/var/etc/@NAME@
RUNCONF=$RUNDIR/@NAME@.json

# rc.common sources this file at top level, also on the build host when an offline root is
# installed (Image Builder, `opkg -o`, `apk --root`: IPKG_INSTROOT is the root then): a path
# without $IPKG_INSTROOT would read the host's file, and a missing file ends dash/ash (exit 2).
# shellcheck source=/dev/null
. "$IPKG_INSTROOT/usr/share/@NAME@/uci2json.sh"

translate() {
	uci2json_load "$NAME" && uci2json_write -
}

# Translate and check into $RUNCONF; 0 = ready, 1 = refused (reason logged), 2 = disabled.
_ew_prepare_config() {
	local out tmp
	if ! uci2json_load "$NAME"; then
		logger -s -t "$NAME" -p daemon.err "not started: fix /etc/config/$NAME (see above)"
		return 1
	fi
	if [ "$UCI_ENABLED" != 1 ]; then
		logger -t "$NAME" -p daemon.notice "disabled in /etc/config/$NAME (option enabled '0')"
		return 2
	fi
	mkdir -p "$RUNDIR"
	tmp="$RUNCONF.new"
	uci2json_write "$tmp" || { rm -f "$tmp"; return 1; }
	chown "root:$UCI_GROUP" "$tmp" 2>/dev/null
	chmod 0640 "$tmp"
	if ! out=$("$PROG" check-config "$tmp" 2>&1); then
		logger -s -t "$NAME" -p daemon.err "not started: the config translated from /etc/config/$NAME is invalid: $out"
		rm -f "$tmp"
		return 1
	fi
	mv -f "$tmp" "$RUNCONF"
	_EW_PREPARED=1
}

# A bad edit followed by `uci commit` must not take down a running service: check first and,
# on error, leave procd (and the running instance with its old config) untouched.
reload_service() {
	local rc=0
	_ew_prepare_config || rc=$?
	if [ "$rc" = 1 ]; then
		logger -s -t "$NAME" -p daemon.err "reload refused: the running instance keeps its previous config"
		return 1
	fi
	start
}

start_service() {
	local heap semi rc=0 user caps
	if [ "$_EW_PREPARED" != 1 ]; then
		_ew_prepare_config || rc=$?
		[ "$rc" = 2 ] && return 0
		[ "$rc" = 0 ] || return 1
	fi
	_EW_PREPARED=
	mkdir -p "$UCI_STATE_DIR"
	chown "$UCI_USER:$UCI_GROUP" "$UCI_STATE_DIR" 2>/dev/null
	chmod 0750 "$UCI_STATE_DIR"

	# V8 reserves gigabytes of address space: cap the heap, never procd `limits as=`.
	# Node's heap limit is old space + young generation: scale the semi-space like the
	# engine's own re-exec (engine/src/memory/reexec.ts heapFlags: heap/16 up to 16 MiB,
	# 1 MiB below a 64 MiB heap).
	heap=$((UCI_MEMORY_MAX_BYTES / 2097152))
	semi=$((heap / 16))
	[ "$heap" -lt 64 ] && semi=1
	[ "$semi" -gt 16 ] && semi=16
	procd_open_instance
	procd_set_param command "$PROG" run --config "$RUNCONF"
	procd_set_param env NODE_OPTIONS="--max-old-space-size=$heap --max-semi-space-size=$semi"
	user=$UCI_USER
	caps=
	# Only a DNS listener below port 1024 needs a capability (port 53 next to dnsmasq).
	[ "$UCI_PRIV_PORT" = 1 ] && caps=/etc/capabilities/$NAME.json
	if [ "$UCI_INTERCEPT" = 1 ]; then
		# nft and conntrack's netlink need CAP_NET_ADMIN; the original destinations come from
		# /proc/net/nf_conntrack (0440 root) or, without root, from the conntrack tool.
		if command -v conntrack >/dev/null 2>&1; then
			caps=/etc/capabilities/$NAME-intercept.json
		else
			user=root
			logger -t "$NAME" -p daemon.notice "interception: conntrack is not installed, so the engine runs as root to read /proc/net/nf_conntrack (install conntrack to run it as $UCI_USER with CAP_NET_ADMIN)"
		fi
	fi
	procd_set_param user "$user"
	procd_set_param group "$UCI_GROUP"
	procd_set_param respawn 300 5 5
	procd_set_param term_timeout $((UCI_GRACE_S + 5))
	procd_set_param reload_signal HUP
	procd_set_param stdout 1
	procd_set_param stderr 1
	[ "$user" != root ] && [ -n "$caps" ] && procd_set_param capabilities "$caps"
	procd_close_instance
}

# After `stop` (rc.common runs this once procd was told to end the instance): a fail-open
# edge's table must not outlive the engine, also when the engine died without removing it
# (SIGKILL, OOM). One nft transaction that succeeds whether the table exists or not. A
# fail-closed table is the engine's to leave (docs/intercept.md).
service_stopped() {
	uci2json_load "$NAME" 2>/dev/null
	[ "$UCI_FAIL_CLOSED" = 1 ] && return 0
	command -v nft >/dev/null 2>&1 || return 0
	printf 'table inet %s\ndelete table inet %s\n' "$UCI_INTERCEPT_TABLE" "$UCI_INTERCEPT_TABLE" | nft -f - 2>/dev/null
	return 0
}

service_triggers() {
	procd_add_reload_trigger "$NAME"
}
