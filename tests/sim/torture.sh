#!/usr/bin/env bash
# Randomised torture (tests/sim/torture.c): a guest with a file:, a uring: and a named mem:
# disk writes, reads and flushes against a model of what blkbackd promises, while steps
# picked by a seeded PRNG kill -9 blkbackd, hand it over, release stalled I/O, reconnect the
# frontend, resize, detach and re-attach with new fault= ranges. Every answered write must
# read back (a mem disk's only while its daemon lives); I/O on a faulty range must fail and
# nothing else may. One line: PASS torture seed=N ops=M, or FAIL torture seed=N: ...
#   TORTURE_SECONDS  how long to take new steps (default 85: with the set-up, the last step
#                    and the final read-back, under tests/run.sh's 120 s limit per test)
#   TORTURE_SEED     the seed (default random, printed); a failing seed replays
#   TORTURE_OPS      stop after this many steps (to replay a failure exactly; then no time
#                    limit unless TORTURE_SECONDS is set)
#   TORTURE_DAEMON_DEBUG  blkbackd's -d flags (ring,io,xs), its log in $XENSIM_DIR/blkbackd.log
#   TORTURE_VERBOSE  set: every step on stderr (kept in $XENSIM_DIR/torture.err with SIM_KEEP=1)
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"

seconds=${TORTURE_SECONDS:-85}
# Replaying up to a step: no time limit unless one is asked for.
[ -z "${TORTURE_OPS:-}" ] || [ -n "${TORTURE_SECONDS:-}" ] || seconds=86400
seed=${TORTURE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "torture seed $seed, $seconds s (TORTURE_SEED=$seed replays it)"
[ -x "$BUILD/tests/sim/torture" ] || fail "$BUILD/tests/sim/torture is not built"

sim_start
xensim create guest1 >/dev/null || fail "cannot create guest1"
export BLKBACKD_RUNDIR=$XENSIM_DIR/blkbackd
# If torture dies without stopping its blkbackd, stop it before the simulator.
kill_left() {
	local pid
	pid=$(cat "$BLKBACKD_RUNDIR/vbd3.pid" 2>/dev/null) || return 0
	kill -KILL "$pid" 2>/dev/null || true
}
cleanup_add kill_left
ops=()
[ -z "${TORTURE_OPS:-}" ] || ops=(--ops "$TORTURE_OPS")
[ -z "${TORTURE_DAEMON_DEBUG:-}" ] || ops+=(--daemon-debug "$TORTURE_DAEMON_DEBUG")
out=$XENSIM_DIR/torture.out
rc=0
"$BUILD/xensim" run guest1 -- "$BUILD/tests/sim/torture" --seed "$seed" --seconds "$seconds" \
	--dir "$XENSIM_DIR" --build "$BUILD" "${ops[@]}" ${TORTURE_VERBOSE:+-v} >"$out" 2>"$XENSIM_DIR/torture.err" || rc=$?
cat "$out"
result=$(grep -E '^(PASS|FAIL) torture ' "$out")
[ "$(grep -cE '^(PASS|FAIL) torture ' "$out")" -eq 1 ] ||
	{ tail -n 30 "$XENSIM_DIR/torture.err"; fail "torture printed no result line (exit $rc)"; }
no_sanitizer_reports "$XENSIM_DIR/blkbackd.log" blkbackd
no_sanitizer_reports "$XENSIM_DIR/torture.err" "the torture frontend"
if [ "$rc" -ne 0 ] || [[ $result != PASS* ]]; then
	tail -n 30 "$XENSIM_DIR/torture.err"
	grep -v debug "$XENSIM_DIR/blkbackd.log" | tail -n 20
	fail "torture exited $rc; TORTURE_SEED=$seed replays it (TORTURE_OPS=<the failing op> stops there)"
fi
