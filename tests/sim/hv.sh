#!/usr/bin/env bash
# The simulated hypervisor against Xen's rules, through the real libxengnttab/libxenevtchn
# API with the drop-in libraries: grant checks (grantee, read-only, bad refs, batches,
# copies, set_max_grants, pages alive while mapped, unmap notification at unmap and at
# process death, destroy revoking grants) in tests/sim/hv-gnt.c; event channels (binding
# rules, masking, latching, rebinding, restrict, fdopen across exec) in hv-evtchn.c.
# Both print their timings (map round trips, notifies/s).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../helpers.sh"
source "$here/lib.sh"
for t in hv-gnt hv-evtchn; do
	[ -x "$BUILD/tests/sim/$t" ] ||
		fail "$BUILD/tests/sim/$t is not built: run make run-sim (or make $BUILD/tests/sim/$t)"
done

sim_start
g1=$(xensim create guest1) || fail "xensim create guest1 failed"
g2=$(xensim create guest2) || fail "xensim create guest2 failed"
[ "$g1" = 1 ] && [ "$g2" = 2 ] || fail "domids $g1 $g2, expected 1 2"
sim_env Domain-0

echo "== event channels"
"$BUILD/tests/sim/hv-evtchn" || fail "hv-evtchn failed"
echo "== grant tables (the refused maps below are logged by the library, as Xen's does)"
err=$XENSIM_DIR/hv-gnt.err
"$BUILD/tests/sim/hv-gnt" "$BUILD/xensim" guest2 2>"$err" ||
	{ cat "$err"; fail "hv-gnt failed"; }
sed 's/^/  stderr: /' "$err" | head -n 5
no_sanitizer_reports "$err" "hv-gnt"
xensim counters

echo "== destroy stops a process that holds only a port (no xenstore connection)"
xensim create guest3 >/dev/null || fail "xensim create guest3 failed"
out=$XENSIM_DIR/hold.out
"$BUILD/xensim" run guest3 -- "$BUILD/tests/sim/hv-evtchn" hold >"$out" 2>&1 &
holder=$!
wait_for 10 grep -q holding "$out" || { cat "$out"; fail "the holder did not bind its port"; }
xensim destroy guest3
rc=0
wait "$holder" || rc=$?
[ "$rc" -eq 137 ] || fail "the holder exited $rc, not killed (137) by the destroy"
echo "  OK: the holder was killed"
