# UCI → engine JSON for @NAME@, sourced by /etc/init.d/@NAME@ after /lib/functions.sh.
# uci2json_load validates every option (unknown names too: a typo must not silently fall back
# to a default), logs each bad one as `@NAME@.<section>.<option>='<value>': <why>` and returns
# 1 so the service never starts half-configured; uci2json_write writes the JSON it built.
# Sets UCI_ENABLED, UCI_STATE_DIR, UCI_MEMORY_MAX_BYTES, UCI_GRACE_S, UCI_PRIV_PORT, UCI_USER,
# UCI_GROUP, UCI_INTERCEPT, UCI_FAIL_CLOSED, UCI_INTERCEPT_TABLE for the init script.
# Reference: docs/openwrt.md (fleet options: docs/fleet.md; interception: docs/intercept.md).
# shellcheck shell=dash

UCI_USER=@NAME@
UCI_GROUP=@NAME@
_EW_MAIN_OPTS=" enabled role state_dir log_level admin_listen admin_token memory_max grace_s tunnel_connect tunnel_listen psk socks_listen dns dns_listen dns_upstream failback_s key_dir ca revoked pin intercept intercept_fail_closed intercept_interface intercept_port "
_EW_FWD_OPTS=" listen target direction edge "
_EW_ICPT_OPTS=" destination port exclude "
# the engine's default table name (engine/schema/config.schema.json intercept.table)
UCI_INTERCEPT_TABLE=edgewan

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
	@NAME@|forward|intercept|'') ;;
	*) _ew_err "$2" "" "unknown section type '$1' (use '@NAME@', 'forward' or 'intercept')" ;;
	esac
}
option_cb() {
	case "$_ew_type" in
	@NAME@) case "$_EW_MAIN_OPTS" in *" $1 "*) ;; *) _ew_err "$_ew_sec.$1" "$2" "unknown option" ;; esac ;;
	forward) case "$_EW_FWD_OPTS" in *" $1 "*) ;; *) _ew_err "$_ew_sec.$1" "$2" "unknown option" ;; esac ;;
	intercept) case "$_EW_ICPT_OPTS" in *" $1 "*) ;; *) _ew_err "$_ew_sec.$1" "$2" "unknown option" ;; esac ;;
	esac
}
list_cb() { option_cb "$@"; }

_ew_list_item() { # value option → appends to _ew_arr
	_ew_text "main.$2" "$1" && _ew_hostport "main.$2" "$1" || return 0
	[ "$2" = dns_listen ] && [ "$_ew_port" -lt 1024 ] && _ew_low=1
	_ew_arr="$_ew_arr${_ew_arr:+,}$(_ew_str "$1")"
}

# _ew_each SECTION OPTION FUNC ARG: FUNC VALUE ARG for each item of a `list`, or once for a
# non-empty `option` of that name (both spellings work; no word splitting, no globbing)
_ew_each() {
	local len v
	config_get len "$1" "$2_LENGTH"
	if [ -n "$len" ]; then
		config_list_foreach "$1" "$2" "$3" "$4"
	else
		config_get v "$1" "$2"
		[ -n "$v" ] && "$3" "$v" "$4"
	fi
	return 0
}

# _ew_dec VALUE: decimal digits without leading zeros in _ew_d (sh arithmetic reads 08 as octal)
_ew_dec() {
	_ew_d=$1
	while :; do case "$_ew_d" in 0?*) _ew_d=${_ew_d#0} ;; *) break ;; esac; done
}

_ew_core_item() { # value: one core host:port of main.tunnel_connect → _ew_arr, _ew_n
	_ew_hostport main.tunnel_connect "$1" || return 0
	_ew_n=$((_ew_n + 1))
	_ew_arr="$_ew_arr${_ew_arr:+,}$(_ew_str "$1")"
}

_ew_path() { # name value: an absolute path without control characters (empty: unset)
	[ -z "$2" ] && return 0
	case "$2" in
	/*) _ew_text "$1" "$2" ;;
	*) _ew_err "$1" "$2" "use an absolute path"; return 1 ;;
	esac
}

_ew_edge_name() { # name value: one DNS label in lower case (docs/fleet.md "Identity")
	case "$2" in
	''|-*|*-|*[!a-z0-9-]*) _ew_err "$1" "$2" "use an edge name: a-z, 0-9 and '-', 1-63 characters, no '-' first or last"; return 1 ;;
	esac
	if [ "${#2}" -gt 63 ]; then _ew_err "$1" "$2" "an edge name has at most 63 characters"; return 1; fi
}

_ew_forward() {
	local s="$1" listen target direction edge
	config_get listen "$s" listen
	config_get target "$s" target
	config_get direction "$s" direction edge-to-core
	config_get edge "$s" edge
	_ew_hostport "$s.listen" "$listen"
	_ew_hostport "$s.target" "$target"
	_ew_enum "$s.direction" "$direction" edge-to-core core-to-edge
	_ew_fwd="$_ew_fwd${_ew_fwd:+,}{\"listen\":$(_ew_str "$listen"),\"target\":$(_ew_str "$target"),\"direction\":\"$direction\""
	if [ -n "$edge" ]; then
		_ew_edge_name "$s.edge" "$edge"
		_ew_fwd="$_ew_fwd,\"edge\":$(_ew_str "$edge")"
	fi
	_ew_fwd="$_ew_fwd}"
}

_ew_cidr_item() { # value section.option → appends a JSON string to _ew_arr (check-config checks the network)
	case "$1" in
	''|*[!0-9A-Fa-f.:/]*) _ew_err "$2" "$1" "use an IPv4/IPv6 network (CIDR, e.g. 10.20.0.0/16 or fd00:20::/48) or address" ;;
	*) _ew_arr="$_ew_arr${_ew_arr:+,}$(_ew_str "$1")" ;;
	esac
}

_ew_port_num() { # name value port: 1-65535
	case "$3" in
	''|*[!0-9]*) return 1 ;;
	esac
	[ "${#3}" -le 5 ] && [ "$3" -ge 1 ] && [ "$3" -le 65535 ]
}

_ew_port_item() { # value section.option → a number or a "low-high" string in _ew_arr
	local lo="${1%%-*}" hi="${1#*-}"
	case "$1" in
	*-*) if _ew_port_num "$2" "$1" "$lo" && _ew_port_num "$2" "$1" "$hi" && [ "$lo" -le "$hi" ]; then
			_ew_dec "$lo"; lo=$_ew_d; _ew_dec "$hi"; hi=$_ew_d
			_ew_arr="$_ew_arr${_ew_arr:+,}\"$lo-$hi\""; return 0
		fi ;;
	*) if _ew_port_num "$2" "$1" "$1"; then _ew_dec "$1"; _ew_arr="$_ew_arr${_ew_arr:+,}$_ew_d"; return 0; fi ;;
	esac
	_ew_err "$2" "$1" "use a TCP port 1-65535 or a range LOW-HIGH, e.g. 8000-8100"
}

_ew_ifname_item() { # value option
	case "$1" in
	''|*[!A-Za-z0-9_.@:-]*) _ew_err "main.$2" "$1" "use an interface name, e.g. br-lan" ;;
	*) if [ "${#1}" -gt 15 ]; then _ew_err "main.$2" "$1" "an interface name has at most 15 characters"
		else _ew_arr="$_ew_arr${_ew_arr:+,}$(_ew_str "$1")"; fi ;;
	esac
}

# one `config intercept` section → one intercept rule (engine config intercept.rules[])
_ew_intercept() {
	local s="$1" d p x
	_ew_arr=; _ew_each "$s" destination _ew_cidr_item "$s.destination"; d=$_ew_arr
	_ew_arr=; _ew_each "$s" port _ew_port_item "$s.port"; p=$_ew_arr
	_ew_arr=; _ew_each "$s" exclude _ew_cidr_item "$s.exclude"; x=$_ew_arr
	[ -z "$d" ] && _ew_err "$s.destination" "" "an intercept section needs at least one 'list destination'"
	[ -z "$p" ] && _ew_err "$s.port" "" "an intercept section needs at least one 'list port'"
	_ew_icpt="$_ew_icpt${_ew_icpt:+,}{\"destinations\":[$d],\"ports\":[$p]"
	[ -n "$x" ] && _ew_icpt="$_ew_icpt,\"exclude\":[$x]"
	_ew_icpt="$_ew_icpt}"
}

uci2json_load() {
	local v role state_dir log_level admin_listen admin_token memory_max grace_s dns tc tl psk socks
	local fb key_dir ca revoked pin icpt_port ifs auth n
	_ew_bad=0 _ew_fwd='' _ew_low=0 _ew_icpt=
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
	# one core (option) or several in order of preference (list: failover, docs/fleet.md)
	_ew_n=0; _ew_arr=; _ew_each main tunnel_connect _ew_core_item; tc=$_ew_arr; n=$_ew_n
	config_get fb main failback_s
	case "$fb" in
	'') ;;
	*[!0-9]*) _ew_err main.failback_s "$fb" "use whole seconds, 0-86400" ;;
	*) if [ "${#fb}" -gt 5 ] || [ "$fb" -gt 86400 ]; then _ew_err main.failback_s "$fb" "use whole seconds, 0-86400"; else _ew_dec "$fb"; fb=$_ew_d; fi ;;
	esac
	config_get key_dir main key_dir; _ew_path main.key_dir "$key_dir"
	config_get ca main ca; _ew_path main.ca "$ca"
	config_get revoked main revoked; _ew_path main.revoked "$revoked"
	config_get pin main pin; _ew_text main.pin "$pin"
	config_get tl main tunnel_listen; [ -n "$tl" ] && _ew_hostport main.tunnel_listen "$tl"
	config_get psk main psk; _ew_text main.psk "$psk"
	config_get socks main socks_listen; [ -n "$socks" ] && _ew_hostport main.socks_listen "$socks"
	config_get v main dns 0; _ew_bool main.dns "$v"; dns=$_ew_b
	_ew_arr=; config_list_foreach main dns_listen _ew_list_item dns_listen; _ew_dns_listen=$_ew_arr
	_ew_arr=; config_list_foreach main dns_upstream _ew_list_item dns_upstream; _ew_dns_up=$_ew_arr
	config_foreach _ew_forward forward
	config_get v main intercept 0; _ew_bool main.intercept "$v"; UCI_INTERCEPT=$_ew_b
	config_get v main intercept_fail_closed 0; _ew_bool main.intercept_fail_closed "$v"; UCI_FAIL_CLOSED=$_ew_b
	config_get icpt_port main intercept_port 9618
	if _ew_port_num main.intercept_port "$icpt_port" "$icpt_port"; then _ew_dec "$icpt_port"; icpt_port=$_ew_d
	else _ew_err main.intercept_port "$icpt_port" "use a TCP port 1-65535"; icpt_port=9618; fi
	_ew_arr=; _ew_each main intercept_interface _ew_ifname_item intercept_interface; ifs=$_ew_arr
	config_foreach _ew_intercept intercept
	[ "$UCI_INTERCEPT" = 1 ] && [ -z "$_ew_icpt" ] && _ew_err main.intercept "1" "add at least one 'config intercept' section (list destination, list port)"
	UCI_PRIV_PORT=0
	[ "$dns" = 1 ] && [ "$_ew_low" = 1 ] && UCI_PRIV_PORT=1

	_ew_json="{\"role\":\"$role\",\"stateDir\":$(_ew_str "$state_dir"),\"memory\":{\"limit\":\"$memory_max\"}"
	_ew_json="$_ew_json,\"admin\":{\"listen\":$(_ew_str "$admin_listen"),\"token\":"
	if [ -n "$admin_token" ]; then _ew_json="$_ew_json$(_ew_str "$admin_token")}"; else _ew_json="${_ew_json}null}"; fi
	_ew_json="$_ew_json,\"log\":{\"level\":\"$log_level\"},\"supervisor\":{\"graceS\":$grace_s}"
	auth=
	[ -n "$psk" ] && auth="$auth\"psk\":$(_ew_str "$psk"),"
	[ -n "$key_dir" ] && auth="$auth\"keyDir\":$(_ew_str "$key_dir"),"
	[ -n "$ca" ] && auth="$auth\"ca\":$(_ew_str "$ca"),"
	[ -n "$revoked" ] && auth="$auth\"revoked\":$(_ew_str "$revoked"),"
	[ -n "$pin" ] && auth="$auth\"pin\":$(_ew_str "$pin"),"
	if [ -n "$tc$tl$fb$auth" ]; then
		_ew_json="$_ew_json,\"tunnel\":{"
		if [ "$n" = 1 ]; then
			_ew_json="$_ew_json\"connect\":$tc,"
		elif [ "$n" -gt 1 ]; then
			_ew_json="$_ew_json\"connect\":[$tc],"
		fi
		[ -n "$fb" ] && _ew_json="$_ew_json\"failbackS\":$fb,"
		[ -n "$tl" ] && _ew_json="$_ew_json\"listen\":$(_ew_str "$tl"),"
		[ -n "$auth" ] && _ew_json="$_ew_json\"auth\":{${auth%,}},"
		_ew_json="${_ew_json%,}}"
	fi
	[ -n "$socks" ] && _ew_json="$_ew_json,\"socks\":{\"listen\":$(_ew_str "$socks")}"
	_ew_json="$_ew_json,\"forwards\":[$_ew_fwd],\"dns\":{\"enabled\":$([ "$dns" = 1 ] && echo true || echo false)"
	[ -n "$_ew_dns_listen" ] && _ew_json="$_ew_json,\"listen\":[$_ew_dns_listen]"
	[ -n "$_ew_dns_up" ] && _ew_json="$_ew_json,\"upstreams\":[$_ew_dns_up]"
	_ew_json="$_ew_json}"
	if [ "$UCI_INTERCEPT" = 1 ] || [ -n "$_ew_icpt" ]; then
		_ew_json="$_ew_json,\"intercept\":{\"enabled\":$([ "$UCI_INTERCEPT" = 1 ] && echo true || echo false),\"rules\":[$_ew_icpt]"
		_ew_json="$_ew_json,\"interfaces\":[$ifs],\"failClosed\":$([ "$UCI_FAIL_CLOSED" = 1 ] && echo true || echo false),\"port\":$icpt_port}"
	fi
	_ew_json="$_ew_json}"
	[ "$_ew_bad" = 0 ]
}

# uci2json_write FILE (or - for stdout: /dev/stdout may not exist early at boot)
uci2json_write() {
	if [ "$1" = - ]; then printf '%s\n' "$_ew_json"; else printf '%s\n' "$_ew_json" > "$1"; fi
}
