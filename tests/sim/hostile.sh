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
# whose names match (bash =~), e.g. HOSTILE_ONLY='^ring-|destroyed'; it must match one at
# least, and the script fails unless it ran every case it matched (none silently lost).
# A HALT case passes only once 'blkbackctl stats' says halted=1 for its disk
# (HOSTILE_HALTED_CMD). Then the grant-revocation and guest-death cases run again on
# file and uring disks that hold every request in storage (fault=0+N:stall): the guest
# revokes its grants, dies or is destroyed while its I/O sits there, and only then does
# 'blkbackctl unstall' let the storage finish; the disk is let go, every page unmapped.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

HOSTILE=$BUILD/tests/hostile/hostile
[ -x "$HOSTILE" ] || fail "$HOSTILE is not built"
LIST=$("$HOSTILE" --list) || fail "'hostile --list' failed"
total=$(grep -c . <<<"$LIST")
want=0
while read -r name _; do [[ $name =~ ${HOSTILE_ONLY:-.} ]] && want=$((want + 1)); done <<<"$LIST"
[ "$want" -gt 0 ] || fail "HOSTILE_ONLY='${HOSTILE_ONLY:-}' matches none of the $total cases"

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
# What only dom0 sees, asked by the cases (tests/hostile/hostile.h, the hooks):
# ask halted VDEV | stalled VDEV | unstall VDEV, for the victim's disk VDEV.
ASK=$XENSIM_DIR/ask.sh
cat >"$ASK" <<EOF_ASK
#!/bin/bash
export XENSIM_DIR=$XENSIM_DIR BLKBACKD_RUNDIR=$XENSIM_DIR/blkbackd
ctl() { "$BUILD/xensim" run Domain-0 -- "$BUILD/blkbackctl" "\$@"; }
key() { ctl stats victim "\$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][sys.argv[1]])' "\$2"; }
case \$1 in
halted) [ "\$(key "\$2" halted)" = 1 ] && [ "\$(key "\$2" connected)" = True ] ;;
stalled) [ "\$(key "\$2" inflight)" -ge 1 ] ;;
unstall) ctl unstall victim "\$2" >/dev/null ;;
*) exit 2 ;;
esac
EOF_ASK
chmod +x "$ASK"
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
		out=$(HOSTILE_HALTED_CMD="$ASK halted $vdev" victim timeout 60 "$HOSTILE" "$vdev" "$name" 2>&1)
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
done <<<"$LIST"
[ $((ok + bad)) -eq "$want" ] || fail "ran $((ok + bad)) hostile cases of the $want listed"
echo "hostile: $ok of $want cases as expected on ramdisks"

# The grant-revocation and guest-death cases on file and uring disks that hold every
# request in storage (the stall is lifted by unstall: each case gets a fresh attach).
STORE_CASES=(revoke-in-flight revoke-queued vanish-mid-io destroyed-mid-io)
SECTORS=32768	# 16 MiB
store_ok=0 store_want=0
# Run case $2 on a $1 disk xvdd that stalls all I/O; blkbackd must hold the disk while
# its I/O sits in storage, and let go after unstall.
store_case() {
	local engine=$1 name=$2 img=$XENSIM_DIR/store.img out dom pid
	rm -f "$img" && truncate -s $((SECTORS * 512)) "$img" || { echo "cannot make $img"; return 1; }
	bk_ctl attach victim "$engine:$img,fault=0+$SECTORS:stall" --vdev xvdd --nowait >/dev/null ||
		{ echo "cannot attach the $engine disk"; return 1; }
	if [ "$name" != destroyed-mid-io ]; then
		local rc=0
		HOSTILE_STALLED_CMD="$ASK stalled xvdd" HOSTILE_UNSTALL_CMD="$ASK unstall xvdd" \
			victim timeout 60 "$HOSTILE" xvdd "$name" 2>&1 || rc=1
		bk_ctl unstall victim xvdd >/dev/null 2>&1	# in case the case did not get to it
		bk_ctl detach victim xvdd >/dev/null || { echo "cannot detach xvdd"; return 1; }
		return $rc
	fi
	out=$XENSIM_DIR/store-destroyed.out
	dom=$(xensim list | awk '$2 == "victim" { print $1 }')
	victim "$HOSTILE" xvdd "$name" >"$out" 2>&1 &
	pid=$!
	held() { [ "$(bk_stat "$1" xvdd inflight 2>/dev/null)" -ge 1 ] 2>/dev/null; }
	if ! wait_for 30 held victim; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		bk_ctl unstall victim xvdd >/dev/null 2>&1
		bk_ctl detach victim xvdd >/dev/null 2>&1
		echo "no I/O ever sat in storage: $(tail -n 1 "$out")"
		return 1
	fi
	xensim destroy victim >/dev/null || { echo "xensim destroy failed"; return 1; }
	wait "$pid" 2>/dev/null
	# The dead guest's disk stays while storage holds its I/O (its pages are still in use).
	local why=
	held "$dom" || why="blkbackd let go of the disk while storage held its I/O"
	bk_ctl unstall "$dom" xvdd >/dev/null 2>&1 ||
		why=${why:-"unstall of the dead guest's disk failed"}
	gone() { ! bk_ctl stats | grep -q "($dom) "; }
	wait_for 20 gone || why=${why:-"blkbackd still serves the destroyed guest's disks after unstall"}
	xensim create victim >/dev/null && attach_victim >/dev/null ||
		why=${why:-"cannot create the victim again"}
	[ -z "$why" ] || { echo "$why"; return 1; }
}
for engine in file uring; do
	for name in "${STORE_CASES[@]}"; do
		[[ $name =~ ${HOSTILE_ONLY:-.} ]] || continue
		grep -q "^$name " <<<"$LIST" || fail "'hostile --list' has no case $name"
		store_want=$((store_want + 1))
		VICTIM_ENV=$(xensim env victim)	# a DESTROYED case made the victim anew
		if out=$(store_case "$engine" "$name"); then
			echo "PASS $name on a $engine disk holding its I/O"
			store_ok=$((store_ok + 1))
		else
			echo "FAIL $name on a $engine disk holding its I/O: $(tail -n 1 <<<"$out")"
			bad=$((bad + 1))
			failed+=("$engine:$name")
		fi
		grep '^hostile: .*: [0-9]' <<<"$out" | sed 's/^/    /'
		kill -0 "$BK_PID" 2>/dev/null ||
			{ tail -n 30 "$BK_LOG"; fail "blkbackd died during case $name on $engine"; }
	done
done

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
[ "$store_ok" -eq "$store_want" ] || fail "ran $store_ok of $store_want cases on stalling disks"
echo "hostile: $ok cases as expected, and $store_ok on file and uring disks holding their I/O"
