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

# The package-script part: what an ipk postinst/prerm (default_postinst $0 $@) and an apk
# post-install/pre-deinstall (root and pkgname exported, then add_group_and_user and
# default_postinst) call. The users of Require-User (opkg's <pkg>.control) or of
# lib/apk/packages/<pkg>.rusers are added to the root's passwd/group (ids from 32768), then
# every /etc/init.d/ script in the package's file list is enabled: offline (IPKG_INSTROOT
# set: Image Builder, `opkg -o`, `apk --root`) by `${shell:-/bin/sh} $root/etc/rc.common
# $root/etc/init.d/<x> enable` run on the build host, shell being bash if the host has one
# and the exit status ignored; on the router enabled (not on upgrade) and started.
_pkg_filelist() {
	if [ -f "$root/lib/apk/packages/$pkgname.list" ]; then echo "$root/lib/apk/packages/$pkgname.list"
	else echo "$root/usr/lib/opkg/info/$pkgname.list"; fi
}
_pkg_free_id() { # file: the first id from 32768 that field 3 of the file does not hold
	local id=32768
	while cut -d: -f3 "$1" | grep -qx "$id"; do id=$((id + 1)); done
	echo "$id"
}
add_group_and_user() {
	local rusers tuple u g gid uid
	[ -z "$pkgname" ] && local pkgname="$(basename "${1%.*}")"
	rusers=$(sed -n 's/^Require-User: *//p' "$root/usr/lib/opkg/info/$pkgname.control" 2>/dev/null)
	[ -f "$root/lib/apk/packages/$pkgname.rusers" ] && rusers=$(cat "$root/lib/apk/packages/$pkgname.rusers")
	for tuple in $rusers; do
		u=${tuple%%:*}
		g=${tuple#"$u"}; g=${g#:}; g=${g%%:*}
		if [ -n "$g" ] && ! grep -q "^$g:" "$root/etc/group"; then
			echo "$g:x:$(_pkg_free_id "$root/etc/group"):" >> "$root/etc/group"
		fi
		gid=$(grep "^$g:" "$root/etc/group" | cut -d: -f3)
		if [ -n "$u" ] && ! grep -q "^$u:" "$root/etc/passwd"; then
			uid=$(_pkg_free_id "$root/etc/passwd")
			echo "$u:x:$uid:${gid:-$uid}:$u:/var/run/$u:/bin/false" >> "$root/etc/passwd"
			echo "$u:x:0:0:99999:7:::" >> "$root/etc/shadow"
		fi
		if [ -n "$u" ] && [ -n "$g" ] && ! grep "^$g:" "$root/etc/group" | cut -d: -f4 | grep -q "$u"; then
			sed -i "s/^\($g:[^:]*:[^:]*:..*\)$/\1,$u/; s/^\($g:[^:]*:[^:]*:\)$/\1$u/" "$root/etc/group"
		fi
	done
}
# _pkg_rc enable start | _pkg_rc disable stop: every /etc/init.d/ script of the file list
_pkg_rc() {
	local i shell
	shell=$(command -v bash)
	for i in $(grep -s '^/etc/init.d/' "$(_pkg_filelist)"); do
		if [ -n "$root" ]; then
			${shell:-/bin/sh} "$root/etc/rc.common" "$root$i" "$1"
		else
			[ "$PKG_UPGRADE" = 1 ] || "$i" "$1"
			"$i" "$2"
		fi
	done
}
default_postinst() {
	local root="$IPKG_INSTROOT" i
	[ -z "$pkgname" ] && local pkgname="$(basename "${1%.*}")"
	[ -e "$root/usr/lib/opkg/info/$pkgname.list" ] && add_group_and_user "$pkgname"
	if [ -z "$root" ]; then
		for i in $(grep -s '^/etc/uci-defaults/' "$(_pkg_filelist)"); do
			( [ -f "$i" ] && cd "$(dirname "$i")" && . "$i" ) && rm -f "$i"
		done
	fi
	_pkg_rc enable start
	return 0
}
default_prerm() {
	local root="$IPKG_INSTROOT"
	[ -z "$pkgname" ] && local pkgname="$(basename "${1%.*}")"
	_pkg_rc disable stop
	return 0
}
