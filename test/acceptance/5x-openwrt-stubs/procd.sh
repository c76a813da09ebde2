# Test stand-in for /lib/functions/procd.sh: the same public function names, recording what
# the init script would send to procd (one line per call) in /tmp/procd.log.
_rec() { echo "$*" >> /tmp/procd.log; }
procd_open_service() { _rec "open_service $1"; }
procd_close_service() { service_triggers; _rec "close_service"; }
procd_open_instance() { _rec "open_instance ${1:-instance1}"; }
procd_close_instance() { _rec "close_instance"; }
procd_set_param() {
	local type="$1"; shift
	case "$type" in
	env|data|limits|command|netdev|file|respawn|watch|watchdog) _rec "param $type $*" ;;
	nice|term_timeout) case "$1" in ''|*[!0-9]*) _rec "BAD int $type=$1" ;; *) _rec "param $type $1" ;; esac ;;
	reload_signal) _rec "param $type $(kill -l "$1" 2>/dev/null || echo "BAD:$1")" ;;
	pidfile|user|group|seccomp|capabilities|facility|stdout|stderr|no_new_privs) _rec "param $type $1" ;;
	*) _rec "BAD param $type" ;;
	esac
}
procd_append_param() { procd_set_param "$@"; }
procd_add_reload_trigger() { for f in "$@"; do _rec "trigger config.change $f"; done; }
procd_add_interface_trigger() { _rec "trigger interface $*"; }
