#!/usr/bin/env bash
# Hostile frontends (tests/hostile/): a victim guest runs each case of 'hostile --list' and
# checks the outcome its case states (an error answer followed by a good read, a halted
# ring, a refused connection with the reason in the backend's error node, a frontend that
# vanished and came back, or anything but a crash). For a DESTROYED case this script
# destroys the victim while its I/O is in flight, checks that blkbackd removes its disks,
# and creates it again. Meanwhile a bystander guest verifies its own disk over and over.
# After every case blkbackd is alive (and the next case's handshake shows it still
# serves); at the end it answers blkbackctl, the bystander never saw a wrong byte, dom0
# maps no guest page, blkbackd holds the fds it started with, and (bk_stop at exit) its
# log holds no sanitizer report. HOSTILE_ONLY=REGEX runs only the cases
# whose names match (bash =~), e.g. HOSTILE_ONLY='^ring-|destroyed'.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

HOSTILE=$BUILD/tests/hostile/hostile
[ -x "$HOSTILE" ] || fail "$HOSTILE is not built"

sim_start
for g in victim bystander; do xensim create "$g" >/dev/null || fail "cannot create $g"; done
bk_start --max-queues 4		# missing-queue1-evtchn wants 2 queues, whatever the CPUs
fds0=$(fd_count "$BK_PID")
# The victim's disks, and its environment: the cases run in it without 'xensim run'.
attach_victim() {
	bk_ctl attach victim mem:size=64M --vdev xvdb --nowait &&
		bk_ctl attach victim mem:size=16M --vdev xvdc --ro --nowait &&
		VICTIM_ENV=$(xensim env victim)
}
victim() { (eval "$VICTIM_ENV" && exec "$@"); }
bk_ctl attach bystander mem:size=64M --vdev xvdb --nowait
attach_victim || fail "cannot attach the victim's disks"

# The bystander verifies its disk, pass after pass, until told to stop.
BY_STOP=$XENSIM_DIR/bystander.stop BY_FAIL=$XENSIM_DIR/bystander.fail
(
	n=0
	while [ ! -e "$BY_STOP" ]; do
		n=$((n + 1))
		"$BUILD/xensim" run bystander -- "$BUILD/blkfront" verify xvdb --seed "$n" \
			--iodepth 8 --passes 1 >>"$XENSIM_DIR/bystander.log" 2>&1 ||
			{ echo "pass $n failed" >"$BY_FAIL"; break; }
	done
	echo "$n" >"$XENSIM_DIR/bystander.passes"
) &
by=$!

# Run DESTROYED case $1 on $2: destroy the victim once its I/O is in flight; blkbackd must
# drop its disks. The victim is created again, with its disks, for the cases after.
destroy_case() {
	local out=$XENSIM_DIR/destroyed.out pid dom
	dom=$(xensim list | awk '$2 == "victim" { print $1 }')
	victim "$HOSTILE" "$2" "$1" >"$out" 2>&1 &
	pid=$!
	in_flight() { grep -q "I/O in flight" "$out" || ! kill -0 "$pid" 2>/dev/null; }
	wait_for 30 in_flight
	if ! grep -q "I/O in flight" "$out"; then
		wait "$pid"
		echo "no I/O in flight: $(tail -n 1 "$out")"
		return 1
	fi
	xensim destroy victim >/dev/null || { echo "xensim destroy failed"; return 1; }
	wait "$pid" 2>/dev/null
	# The daemon's own list (blkbackctl list shows xenstore, where the name goes first).
	victim_gone() { ! bk_ctl stats | grep -q "($dom) "; }
	wait_for 10 victim_gone ||
		{ echo "blkbackd still serves the destroyed guest's disks"; return 1; }
	xensim create victim >/dev/null && attach_victim >/dev/null ||
		{ echo "cannot create the victim again"; return 1; }
}

ok=0 bad=0 failed=()
while read -r name disk expect; do
	[[ $name =~ ${HOSTILE_ONLY:-.} ]] || continue
	case $disk in
	ro) vdev=xvdc ;;
	*) vdev=xvdb ;;
	esac
	if [ "$expect" = DESTROYED ]; then
		out=$(destroy_case "$name" "$vdev")
	else
		out=$(victim timeout 60 "$HOSTILE" "$vdev" "$name" 2>&1)
	fi
	if [ $? -eq 0 ]; then
		echo "PASS $name ($expect)"
		ok=$((ok + 1))
	else
		echo "FAIL $name ($expect): $(tail -n 1 <<<"$out")"
		bad=$((bad + 1))
		failed+=("$name")
	fi
	grep '^hostile: .*: [0-9]' <<<"$out" | sed 's/^/    /'	# what a case counted
	kill -0 "$BK_PID" 2>/dev/null ||
		{ tail -n 30 "$BK_LOG"; fail "blkbackd died during case $name"; }
done < <("$HOSTILE" --list)

touch "$BY_STOP"
wait "$by"
[ ! -e "$BY_FAIL" ] || {
	tail -n 20 "$XENSIM_DIR/bystander.log"
	fail "the bystander's verify failed: $(cat "$BY_FAIL")"
}
echo "the bystander verified its disk $(cat "$XENSIM_DIR/bystander.passes") times, all good"
bk_serving || fail "blkbackd no longer answers"
bk_ctl detach victim xvdb
bk_ctl detach victim xvdc
bk_ctl detach bystander xvdb
# Every grant page dom0 mapped for any case, refused, vanished or destroyed, is unmapped.
maps=$(counter Domain-0 maps) unmaps=$(counter Domain-0 unmaps)
echo "dom0 mapped $maps grant pages and unmapped $unmaps"
[ "$maps" -eq "$unmaps" ] || fail "dom0 still maps $((maps - unmaps)) guest pages"
fds1=$(fd_count "$BK_PID")
[ "$fds1" -eq "$fds0" ] || { ls -l "/proc/$BK_PID/fd"; fail "blkbackd had $fds0 fds, now $fds1"; }
[ "$bad" -eq 0 ] || fail "$bad hostile cases not as expected: ${failed[*]}"
echo "hostile: $ok cases as expected"
