#!/usr/bin/env bash
# nbd: disks that cannot be served: malformed specs and URIs, a socket that refuses the
# connection, one that is not there, a wrong export name, a server that takes the connection
# and never answers (the open gives up after timeout=). The engine refuses each with a
# message naming the cause and leaves no socket open (tests/sim/nbd-engine.c --bad); then
# through blkbackd in the simulator, the attach fails saying so, and leaves no xenstore node,
# no disk and no file descriptor behind.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-nbd.sh"
requires python3

[ -x "$BUILD/tests/sim/nbd-engine" ] || fail "$BUILD/tests/sim/nbd-engine is not built"
nbd_setup
nbd_server named --filter=exportname memory 8M exportname=good exportname-strict=true
# deaf: bound but not listening (connect: refused); mute: listening, never answering.
python3 - "$NBD_DIR" <<'PY' &
import os, signal, socket, sys
d = sys.argv[1]
deaf = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
deaf.bind(os.path.join(d, "deaf.sock"))
mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
mute.bind(os.path.join(d, "mute.sock"))
mute.listen(16)
open(os.path.join(d, "sockets.ready"), "w").close()
signal.pause()
PY
socks=$!
cleanup_add "kill $socks 2>/dev/null"
wait_for 10 test -e "$NBD_DIR/sockets.ready" || fail "the deaf and mute sockets did not come up"

"$BUILD/tests/sim/nbd-engine" --bad "$NBD_DIR" || { echo "FAIL nbd-bad-input: see above"; exit 1; }

bk_sim guest1
be=/local/domain/0/backend/vbd3/1/51728
fds0=$(fd_count "$BK_PID")
# attach SPEC WANT: refused saying WANT, nothing left.
refused() {
	expect_fail bk_ctl attach guest1 "$1" --vdev xvdb --timeout 60
	expect_out "$2"
	echo "refused $1: ${OUT#blkbackctl: }"
	if xensim run Domain-0 -- python3 "$here/xs-raw.py" read "$be" >/dev/null 2>&1; then
		fail "after $1: $be left in xenstore"
	fi
	bk_ctl stats | grep -q '^disk ' && fail "after $1: blkbackd still has a disk: $(bk_ctl stats)"
	[ "$(fd_count "$BK_PID")" -eq "$fds0" ] ||
		{ ls -l "/proc/$BK_PID/fd"; fail "after $1: blkbackd had $fds0 fds, now $(fd_count "$BK_PID")"; }
}
refused "nbd:nbd+unix:///wrong?socket=$NBD_DIR/named.sock,timeout=5" "cannot connect to the NBD server"
expect_out "wrong"
refused "nbd:nbd+unix:///?socket=$NBD_DIR/deaf.sock,timeout=5" "Connection refused"
refused "nbd:nbd+unix:///?socket=$NBD_DIR/mute.sock,timeout=1" "no answer in 1 s"
expect_fail bk_ctl attach guest1 "nbd:/srv/disk.img" --vdev xvdb
expect_out "give the server's URI"
bk_serving || fail "blkbackd stopped answering"
echo "PASS nbd-bad-input"
