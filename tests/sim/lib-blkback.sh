# Sourced by the simulator suites that run blkbackd, after tests/helpers.sh and
# tests/sim/lib.sh (sim_start has run: XENSIM_DIR is set and the simulator is up).
#   bk_sim GUEST...    sim_start, create the guests, bk_start: the usual opening
#   bk_start [ARGS]    blkbackd in dom0, returns once it serves; stopped and checked at exit
#                      (BK_KIND: the kind it serves; BK_WRAP: a command to run it under)
#   bk_ctl ARGS        blkbackctl in dom0
#   fe GUEST ARGS      the userspace blkfront in domain GUEST
#   fe_bg LOG GUEST ARGS     the same in the background, output to LOG, its pid in FE_PID
#   bk_stat GUEST VDEV KEY   one counter from 'blkbackctl stats'
#   counter DOMAIN KEY       one of the simulator's counters for DOMAIN

bk_ctl() { xensim run Domain-0 -- "$BUILD/blkbackctl" "$@"; }
fe() { local g=$1; shift; xensim run "$g" -- "$BUILD/blkfront" "$@"; }

# (Not through the xensim function: $! must be blkfront's own pid, not a subshell's.)
fe_bg() {
	local log=$1 g=$2
	shift 2
	"$BUILD/xensim" run "$g" -- "$BUILD/blkfront" "$@" >"$log" 2>&1 &
	FE_PID=$!
}

# Start the simulator with guests $@ and blkbackd serving them.
bk_sim() {
	local g
	sim_start
	for g in "$@"; do xensim create "$g" >/dev/null || fail "cannot create $g"; done
	bk_start
}

# Start blkbackd as dom0's disk backend, logging to $BK_LOG, with options $@; BK_KIND, if
# set, is the kind it serves (--kind), and the array BK_WRAP, if set, a command it runs
# under (e.g. setpriv).
bk_start() {
	export BLKBACKD_RUNDIR=$XENSIM_DIR/blkbackd
	BK_LOG=$XENSIM_DIR/blkbackd.log
	"$BUILD/xensim" run Domain-0 -- "${BK_WRAP[@]}" "$BUILD/blkbackd" -d xs \
		${BK_KIND:+--kind "$BK_KIND"} "$@" >>"$BK_LOG" 2>&1 &
	BK_PID=$!
	cleanup_add bk_stop
	wait_for 20 bk_serving || { cat "$BK_LOG"; fail "blkbackd did not start"; }
}

# Does blkbackd answer on its control socket?
bk_serving() {
	kill -0 "$BK_PID" 2>/dev/null && bk_ctl ${BK_KIND:+--kind "$BK_KIND"} stats >/dev/null 2>&1
}

# Stop blkbackd with SIGTERM; it must exit 0 with a clean sanitizer log. Idempotent.
bk_stop() {
	local rc=0
	[ -n "${BK_PID:-}" ] || return 0
	kill -TERM "$BK_PID" 2>/dev/null
	wait "$BK_PID" || rc=$?
	BK_PID=
	no_sanitizer_reports "$BK_LOG" blkbackd
	[ "$rc" -eq 0 ] || { tail -n 20 "$BK_LOG"; fail "blkbackd exited with status $rc"; }
}

# Hand the disks over (blkbackctl handover, as for an upgrade): blkbackd must exit 0 with a
# clean sanitizer log, leaving them to the next one (bk_start). Its output goes to $1.
bk_handover() {
	local rc=0
	bk_ctl handover >"${1:-/dev/null}" || fail "handover failed"
	wait "$BK_PID" || rc=$?
	[ "$rc" -eq 0 ] || { tail -n 20 "$BK_LOG"; fail "blkbackd exited $rc after the handover"; }
	no_sanitizer_reports "$BK_LOG" blkbackd
	BK_PID=
}

# The guest's verify running in the background as pid $1 (its output in
# $XENSIM_DIR/verify.log) passed through $2 (what happened meanwhile, for the message), and no
# error response reached guest1's xvdb.
bk_verify_through() {
	wait "$1" || { cat "$XENSIM_DIR/verify.log"; tail -n 30 "$BK_LOG"; fail "verify failed across $2"; }
	cat "$XENSIM_DIR/verify.log"
	[ "$(bk_stat guest1 xvdb err_req)" -eq 0 ] || fail "error responses reached the guest"
}

# Print counter $3 of disk $2 of domain $1 from 'blkbackctl stats'.
bk_stat() {
	bk_ctl stats "$1" "$2" --json | python3 -c \
		'import json,sys; print(json.load(sys.stdin)[0][sys.argv[1]])' "$3"
}

# Print the simulator's counter $2 (e.g. maps, notifies) of domain $1.
counter() {
	xensim counters "$1" --json | python3 -c \
		'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d[sys.argv[1]])' "$2"
}

# Count the open file descriptors of process $1.
fd_count() { ls "/proc/$1/fd" | wc -l; }
