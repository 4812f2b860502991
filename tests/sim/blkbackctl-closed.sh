#!/usr/bin/env bash
# blkbackctl attach never says a disk "stays attached and connects when the guest is ready"
# when its backend has closed: a backend that goes Closed without an error node and the
# attach's --timeout running out before blkbackctl's wait for that node ends. The test plays
# the daemon (a locked pidfile, and a dom0 watcher that writes state 6 as soon as the
# backend's nodes appear); attach must fail saying the backend closed, and leave nothing.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
requires python3 flock

sim_start
xensim create guest1 >/dev/null || fail "cannot create guest1"
dom=$(xensim list | awk '$2 == "guest1" { print $1 }')
export BLKBACKD_RUNDIR=$XENSIM_DIR/blkbackd
mkdir -p "$BLKBACKD_RUNDIR"
# A daemon for kind vbdt, as blkbackctl sees one: a pidfile locked by a live process.
exec 9>"$BLKBACKD_RUNDIR/vbdt.pid"
echo $$ >&9
flock -x 9 || fail "cannot lock the fake pidfile"
be=/local/domain/0/backend/vbdt/$dom/51728

# In dom0: wait for the backend's state node, then write Closed over it (xs_wire.h READ,
# WRITE, on one connection); prints "closed" once written.
close_backend() {
	xensim run Domain-0 -- python3 "$here/xs-raw.py" wait "$be/state" write "$be/state" 6 &&
		echo closed
}

# The watcher may, on a loaded machine, write Closed only after attach's 1 s timeout: then
# attach rightly says the disk is not connected yet. Try until one run saw the backend closed.
seen=0
for ((try = 0; try < 5 && !seen; try++)); do
	close_backend >"$XENSIM_DIR/closer.log" 2>&1 &
	closer=$!
	rc=0
	OUT=$(xensim run Domain-0 -- "$BUILD/blkbackctl" --kind vbdt attach guest1 mem:size=1M \
		--vdev xvdb --timeout 1 2>&1) || rc=$?
	wait "$closer" || fail "the watcher failed: $(cat "$XENSIM_DIR/closer.log")"
	[ "$rc" -eq 1 ] || fail "attach exited $rc, not 1: $OUT"
	if [[ $OUT == *"not connected after 1 s: backend Initialising"* ]]; then
		# Too late: the state was not Closed yet. Take the nodes away for the next try.
		xensim run Domain-0 -- "$BUILD/blkbackctl" --kind vbdt detach guest1 xvdb --force \
			--timeout 1 >/dev/null 2>&1
		continue
	fi
	seen=1
	[[ $OUT != *"stays attached"* ]] || fail "attach says a closed disk stays attached: $OUT"
	expect_out "blkbackd closed xvdb on domain $dom (guest1) without saying why"
done
[ "$seen" -eq 1 ] || fail "the watcher never closed the backend before attach's timeout"
left=$(xensim run Domain-0 -- "$BUILD/blkbackctl" --kind vbdt list | tail -n +2)
[ -z "$left" ] || fail "a refused attach left a disk: $left"
echo "ok: an attach whose backend closed without a word failed, saying so, and left nothing"
