# Test stand-in for OpenWRT's /lib/functions.sh UCI part: config_load evaluates
# /etc/config/<pkg> (UCI syntax is shell with these three commands, as `uci export` prints it)
# and config_get/config_get_bool/config_foreach/config_list_foreach read it back, with the
# config_cb/option_cb/list_cb callbacks OpenWRT calls.
reset_cb() {
	config_cb() { return 0; }
	option_cb() { return 0; }
	list_cb() { return 0; }
}
reset_cb
package() { return 0; }
config() {
	CONFIG_NUM_SECTIONS=$((CONFIG_NUM_SECTIONS + 1))
	CONFIG_SECTION="${2:-cfg$CONFIG_NUM_SECTIONS}"
	CONFIG_SECTIONS="$CONFIG_SECTIONS $CONFIG_SECTION"
	config_set "$CONFIG_SECTION" TYPE "$1"
	config_cb "$1" "$CONFIG_SECTION"
}
option() {
	local n="$1"; shift
	config_set "$CONFIG_SECTION" "$n" "$*"
	option_cb "$n" "$*"
}
list() {
	local n="$1" len; shift
	config_get len "$CONFIG_SECTION" "${n}_LENGTH" 0
	len=$((len + 1))
	config_set "$CONFIG_SECTION" "${n}_ITEM$len" "$*"
	config_set "$CONFIG_SECTION" "${n}_LENGTH" "$len"
	list_cb "$n" "$*"
}
config_set() { eval "CONFIG_${1}_${2}=\$3"; }
config_get() {
	case "$3" in
	"") eval echo "\"\${CONFIG_${1}_${2}:-\${4}}\"" ;;
	*) eval "${1}=\${CONFIG_${2}_${3}:-\${4}}" ;;
	esac
}
config_get_bool() {
	local _t; config_get _t "$2" "$3" "$4"
	case "$_t" in 1|on|true|yes|enabled) _t=1 ;; 0|off|false|no|disabled) _t=0 ;; *) _t="$4" ;; esac
	eval "$1=\$_t"
}
config_foreach() {
	local f="$1" t="$2" s ty; shift 2
	for s in $CONFIG_SECTIONS; do
		config_get ty "$s" TYPE
		[ -n "$t" ] && [ "$ty" != "$t" ] && continue
		"$f" "$s" "$@"
	done
}
config_list_foreach() {
	local s="$1" o="$2" f="$3" len c=1 v; shift 3
	config_get len "$s" "${o}_LENGTH"
	[ -z "$len" ] && return 0
	while [ "$c" -le "$len" ]; do
		config_get v "$s" "${o}_ITEM$c"
		"$f" "$v" "$@"
		c=$((c + 1))
	done
}
config_load() {
	CONFIG_SECTIONS= CONFIG_NUM_SECTIONS=0 CONFIG_SECTION=
	[ -f "${UCI_CONFIG_DIR:-/etc/config}/$1" ] || return 1
	. "${UCI_CONFIG_DIR:-/etc/config}/$1"
	${CONFIG_SECTION:+config_cb}
	return 0
}
