# Sourced by the nbd tests, after tests/helpers.sh: nbdkit servers on Unix sockets under one
# directory of the test's own, started and stopped by pid.
#   nbd_setup              make $NBD_DIR (removed at exit, after every server is stopped)
#   nbd_server NAME ARGS   nbdkit ARGS (plugin, filters...) serving $NBD_DIR/NAME.sock; returns
#                          once the socket takes connections; stopped at exit
#   nbd_uri NAME           nbd+unix:///?socket=$NBD_DIR/NAME.sock
#   nbd_kill NAME          SIGKILL the server NAME and wait until it is gone
#   nbd_pid NAME           its pid
requires nbdkit

nbd_setup() {
	NBD_DIR=$(mktemp -d /tmp/blkback-nbd.XXXXXX) || fail "mktemp failed"
	cleanup_add "rm -rf '$NBD_DIR'"
}

nbd_pid() { cat "$NBD_DIR/$1.pid" 2>/dev/null; }

nbd_uri() { echo "nbd+unix:///?socket=$NBD_DIR/$1.sock"; }

# nbdkit writes its pid file once it listens, then leaves the foreground.
nbd_server() {
	local name=$1
	shift
	rm -f "$NBD_DIR/$name.pid" "$NBD_DIR/$name.sock"
	nbdkit --log=stderr --unix "$NBD_DIR/$name.sock" --pidfile "$NBD_DIR/$name.pid" "$@" \
		>>"$NBD_DIR/$name.log" 2>&1 || { cat "$NBD_DIR/$name.log"; fail "nbdkit $* did not start"; }
	wait_for 10 test -s "$NBD_DIR/$name.pid" || fail "nbdkit $name wrote no pid file"
	cleanup_add "nbd_stop $name"
}

# Whether server $1 is gone.
nbd_gone() { local p; p=$(nbd_pid "$1"); [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; }

nbd_kill() {
	local p
	p=$(nbd_pid "$1") || fail "no pid file for nbdkit $1"
	kill -KILL "$p" 2>/dev/null
	wait_for 10 nbd_gone "$1" || fail "nbdkit $1 (pid $p) did not die"
	rm -f "$NBD_DIR/$1.pid"
}

# Stop server $1 if it runs. Idempotent.
nbd_stop() {
	local p
	p=$(nbd_pid "$1") || return 0
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null
	wait_for 10 nbd_gone "$1" || kill -KILL "$p" 2>/dev/null
	rm -f "$NBD_DIR/$1.pid"
	return 0
}
