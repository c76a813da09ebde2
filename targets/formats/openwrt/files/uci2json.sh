# UCI → engine JSON for @NAME@, sourced by /etc/init.d/@NAME@ after /lib/functions.sh.
# uci2json_load validates every option (unknown names too: a typo must not silently fall back
# to a default), logs each bad one as `@NAME@.<section>.<option>='<value>': <why>` and returns
# 1 so the service never starts half-configured; uci2json_write writes the JSON it built.
# Sets UCI_ENABLED, UCI_STATE_DIR, UCI_MEMORY_MAX_BYTES, UCI_GRACE_S, UCI_PRIV_PORT, UCI_USER,
# UCI_GROUP for the init script. Reference: docs/openwrt.md.
# shellcheck shell=dash

UCI_USER=@NAME@
UCI_GROUP=@NAME@
_EW_MAIN_OPTS=" enabled role state_dir log_level admin_listen admin_token memory_max grace_s tunnel_connect tunnel_listen psk socks_listen dns dns_listen dns_upstream "
_EW_FWD_OPTS=" listen target direction "

_ew_err() {
	logger -s -t @NAME@ -p daemon.err "invalid UCI option @NAME@.$1='$2': $3"
	_ew_bad=1
}

# JSON string; control characters are refused by _ew_text before we get here.
_ew_str() {
	printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

_ew_text() {
	case "$2" in
	*[[:cntrl:]]*) _ew_err "$1" "$2" "control characters are not allowed"; return 1 ;;
	esac
	return 0
}

_ew_bool() { # name value → 1/0 in _ew_b
	case "$2" in
	1|on|true|yes|enabled) _ew_b=1 ;;
	0|off|false|no|disabled) _ew_b=0 ;;
	*) _ew_err "$1" "$2" "use 1 or 0"; _ew_b=0; return 1 ;;
	esac
}

_ew_hostport() { # name value: HOST:PORT or [IPv6]:PORT, port 1-65535
	local port="${2##*:}"
	case "$2" in
	*:*) ;;
	*) _ew_err "$1" "$2" "use HOST:PORT, e.g. 127.0.0.1:9617"; return 1 ;;
	esac
	case "$2" in
	*[!A-Za-z0-9.:_\[\]-]*|:*) _ew_err "$1" "$2" "use HOST:PORT, e.g. 127.0.0.1:9617"; return 1 ;;
	esac
	case "$port" in
	''|*[!0-9]*) _ew_err "$1" "$2" "the port must be a number"; return 1 ;;
	esac
	if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
		_ew_err "$1" "$2" "the port must be 1-65535"; return 1
	fi
	_ew_port=$port
}

_ew_size() { # name value → bytes in _ew_bytes (B, KiB, MiB, GiB; at least 32MiB)
	local n="${2%%[!0-9]*}" m
	case "${2#"$n"}" in
	''|B) m=1 ;;
	K|KiB) m=1024 ;;
	M|MiB) m=1048576 ;;
	G|GiB) m=1073741824 ;;
	*) n= ;;
	esac
	if [ -z "$n" ]; then _ew_err "$1" "$2" "use a size like 128MiB"; return 1; fi
	_ew_bytes=$((n * m))
	if [ "$_ew_bytes" -lt 33554432 ]; then _ew_err "$1" "$2" "at least 32MiB"; return 1; fi
}

_ew_enum() { # name value allowed...
	local name="$1" v="$2" a
	shift 2
	for a in "$@"; do [ "$v" = "$a" ] && return 0; done
	_ew_err "$name" "$v" "use one of: $*"
	return 1
}

# Callbacks from config_load: refuse unknown section types and option names.
config_cb() {
	_ew_type="$1"
	_ew_sec="$2"
	case "$1" in
	@NAME@|forward|'') ;;
	*) _ew_err "$2" "" "unknown section type '$1' (use '@NAME@' or 'forward')" ;;
	esac
}
option_cb() {
	case "$_ew_type" in
	@NAME@) case "$_EW_MAIN_OPTS" in *" $1 "*) ;; *) _ew_err "$_ew_sec.$1" "$2" "unknown option" ;; esac ;;
	forward) case "$_EW_FWD_OPTS" in *" $1 "*) ;; *) _ew_err "$_ew_sec.$1" "$2" "unknown option" ;; esac ;;
	esac
}
list_cb() { option_cb "$@"; }

_ew_list_item() { # value option → appends to _ew_arr
	_ew_text "main.$2" "$1" && _ew_hostport "main.$2" "$1" || return 0
	[ "$2" = dns_listen ] && [ "$_ew_port" -lt 1024 ] && _ew_low=1
	_ew_arr="$_ew_arr${_ew_arr:+,}$(_ew_str "$1")"
}

_ew_forward() {
	local s="$1" listen target direction
	config_get listen "$s" listen
	config_get target "$s" target
	config_get direction "$s" direction edge-to-core
	_ew_hostport "$s.listen" "$listen"
	_ew_hostport "$s.target" "$target"
	_ew_enum "$s.direction" "$direction" edge-to-core core-to-edge
	_ew_fwd="$_ew_fwd${_ew_fwd:+,}{\"listen\":$(_ew_str "$listen"),\"target\":$(_ew_str "$target"),\"direction\":\"$direction\"}"
}

uci2json_load() {
	local v role state_dir log_level admin_listen admin_token memory_max grace_s dns tc tl psk socks
	_ew_bad=0 _ew_fwd='' _ew_low=0
	config_load "$1"
	reset_cb
	config_get v main enabled 1; _ew_bool main.enabled "$v"; UCI_ENABLED=$_ew_b
	config_get role main role edge; _ew_enum main.role "$role" edge core
	config_get state_dir main state_dir /tmp/@NAME@
	case "$state_dir" in
	/*) _ew_text main.state_dir "$state_dir" ;;
	*) _ew_err main.state_dir "$state_dir" "use an absolute path" ;;
	esac
	UCI_STATE_DIR=$state_dir
	config_get log_level main log_level info; _ew_enum main.log_level "$log_level" debug info warn error
	config_get admin_listen main admin_listen 127.0.0.1:9617; _ew_hostport main.admin_listen "$admin_listen"
	config_get admin_token main admin_token; _ew_text main.admin_token "$admin_token"
	config_get memory_max main memory_max @MEMORY_MAX@
	_ew_size main.memory_max "$memory_max" && UCI_MEMORY_MAX_BYTES=$_ew_bytes
	config_get grace_s main grace_s 5
	case "$grace_s" in
	''|*[!0-9]*) _ew_err main.grace_s "$grace_s" "use whole seconds, 1-300" ;;
	*) if [ "$grace_s" -lt 1 ] || [ "$grace_s" -gt 300 ]; then _ew_err main.grace_s "$grace_s" "use whole seconds, 1-300"; fi ;;
	esac
	UCI_GRACE_S=$grace_s
	config_get tc main tunnel_connect; [ -n "$tc" ] && _ew_hostport main.tunnel_connect "$tc"
	config_get tl main tunnel_listen; [ -n "$tl" ] && _ew_hostport main.tunnel_listen "$tl"
	config_get psk main psk; _ew_text main.psk "$psk"
	config_get socks main socks_listen; [ -n "$socks" ] && _ew_hostport main.socks_listen "$socks"
	config_get v main dns 0; _ew_bool main.dns "$v"; dns=$_ew_b
	_ew_arr=; config_list_foreach main dns_listen _ew_list_item dns_listen; _ew_dns_listen=$_ew_arr
	_ew_arr=; config_list_foreach main dns_upstream _ew_list_item dns_upstream; _ew_dns_up=$_ew_arr
	config_foreach _ew_forward forward
	UCI_PRIV_PORT=0
	[ "$dns" = 1 ] && [ "$_ew_low" = 1 ] && UCI_PRIV_PORT=1

	_ew_json="{\"role\":\"$role\",\"stateDir\":$(_ew_str "$state_dir"),\"memory\":{\"limit\":\"$memory_max\"}"
	_ew_json="$_ew_json,\"admin\":{\"listen\":$(_ew_str "$admin_listen"),\"token\":"
	if [ -n "$admin_token" ]; then _ew_json="$_ew_json$(_ew_str "$admin_token")}"; else _ew_json="${_ew_json}null}"; fi
	_ew_json="$_ew_json,\"log\":{\"level\":\"$log_level\"},\"supervisor\":{\"graceS\":$grace_s}"
	if [ -n "$tc$tl$psk" ]; then
		_ew_json="$_ew_json,\"tunnel\":{"
		[ -n "$tc" ] && _ew_json="$_ew_json\"connect\":$(_ew_str "$tc"),"
		[ -n "$tl" ] && _ew_json="$_ew_json\"listen\":$(_ew_str "$tl"),"
		[ -n "$psk" ] && _ew_json="$_ew_json\"auth\":{\"psk\":$(_ew_str "$psk")},"
		_ew_json="${_ew_json%,}}"
	fi
	[ -n "$socks" ] && _ew_json="$_ew_json,\"socks\":{\"listen\":$(_ew_str "$socks")}"
	_ew_json="$_ew_json,\"forwards\":[$_ew_fwd],\"dns\":{\"enabled\":$([ "$dns" = 1 ] && echo true || echo false)"
	[ -n "$_ew_dns_listen" ] && _ew_json="$_ew_json,\"listen\":[$_ew_dns_listen]"
	[ -n "$_ew_dns_up" ] && _ew_json="$_ew_json,\"upstreams\":[$_ew_dns_up]"
	_ew_json="$_ew_json}}"
	[ "$_ew_bad" = 0 ]
}

# uci2json_write FILE (or - for stdout: /dev/stdout may not exist early at boot)
uci2json_write() {
	if [ "$1" = - ]; then printf '%s\n' "$_ew_json"; else printf '%s\n' "$_ew_json" > "$1"; fi
}
