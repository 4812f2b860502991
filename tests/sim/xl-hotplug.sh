#!/usr/bin/env bash
# Disks named in an xl domain config, Xen 4.19+ flavour (backendtype=tap, kind vbd3, params
# aio:TARGET), through blkbackd's hotplug script tools/hotplug/blkbackd, with libxl's exact
# sequence played by tests/sim/xl-libxl.py: its nodes, its 10 s wait for InitWait (any other
# state ignored), the script's add with libxl's environment, and its removal (online 0,
# Closing, 10 s wait for Closed, the script's remove, the nodes deleted).
#  - A mem and a file disk attach; the userspace blkfront verifies them; they detach leaving
#    no node and nothing in the daemon; the same image attaches again at once.
#  - xl destroy's removal of a disk a guest is using leaves nothing either.
#  - Bad specs (unknown engine, missing file, size 0, absurd size, a read-only file with
#    access=rw, format vhd) still reach InitWait, so that libxl runs the script; the script
#    exits 1 with blkbackd's own message on stderr and in hotplug-error (xl's "script:"
#    line); the backend then closes; xl block-detach (and xl destroy's forced removal)
#    leaves nothing behind.
#  - With no blkbackd running, the script's add fails saying how to start it.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-xl.sh"
requires python3

# The daemon runs without root's power over file permissions (when we are root), so that
# a file without write permission is read-only to it, as it is to a service.
BK_WRAP=()
if [ "$(id -u)" = 0 ]; then
	requires setpriv
	BK_WRAP=(setpriv --inh-caps=-dac_override,-dac_read_search
		 --bounding-set=-dac_override,-dac_read_search --)
fi
bk_sim guest1

xl_init guest1 vbd3
dom=$DOM script=$SCRIPT be=$BE fe=$FE
xs() { xensim run Domain-0 -- python3 "$here/xs-raw.py" "$@"; }
attach() { libxl attach "$dom" 51728 "$@" --script "$script"; }
# libxl's removal; the script's remove returns once blkbackd has closed the storage, and
# says so when it has not.
detach() {
	local out rc=0
	out=$(libxl detach "$dom" 51728 --script "$script" "$@" 2>&1) || rc=$?
	echo "$out"
	[[ $out != *"has not closed the storage"* ]] || { echo "storage still open"; return 1; }
	return "$rc"
}

nothing_left() { xl_nothing_left "$@"; }

# A good disk of each engine attaches, serves a verify, and goes without a trace.
img=$XENSIM_DIR/vm1.img
truncate -s 16M "$img"
for target in mem:size=16M "file:$img"; do
	OUT=$(attach "$target" 2>&1) || fail "attach of aio:$target failed: $OUT"
	expect_out "libxl: added $be"
	[ "$(xs read "$be/hotplug-status")" = connected ] || fail "$target: no hotplug-status"
	fe guest1 verify xvdb --seed 3 --iodepth 8 >/dev/null || fail "verify on $target failed"
	OUT=$(detach 2>&1) || fail "detach of $target failed: $OUT"
	expect_out "libxl: removed $be"
	nothing_left "after detaching $target"
done
# The same image attaches again right after a detach: blkbackd closed it before the
# script's remove returned (else the new open meets the old one's lock).
for i in 1 2 3; do
	OUT=$(attach "file:$img" 2>&1) || fail "re-attach $i of the image failed: $OUT"
	OUT=$(detach 2>&1) || fail "detach $i of the image failed: $OUT"
done
nothing_left "after re-attaching the image"

# xl destroy's removal (the frontend's directory goes first) of a disk the guest is using.
OUT=$(attach "file:$img" 2>&1) || fail "attach before the destroy failed: $OUT"
fe_bg "$XENSIM_DIR/bench.log" guest1 bench xvdb --rw randrw --runtime 60 --io-timeout 60
connected() { [ "$(xs read "$be/state")" = 4 ] && [ "$(xs read "$fe/state")" = 4 ]; }
wait_for 20 connected || fail "the guest did not connect: $(cat "$XENSIM_DIR/bench.log")"
OUT=$(detach --force on 2>&1) || fail "xl destroy's removal failed: $OUT"
kill "$FE_PID" 2>/dev/null
wait "$FE_PID" 2>/dev/null
nothing_left "after xl destroy's removal of a connected disk"

# A bad spec: InitWait all the same, the script exits 1 with the daemon's message on stderr
# and in hotplug-error, the device closes; then libxl's removal ($1: off for block-detach,
# on for xl destroy) leaves nothing.
ro=$XENSIM_DIR/ro.img
truncate -s 1M "$ro"
chmod 0444 "$ro"
bad() {
	local params=$1 mode=$2 why=$3 force=$4 err format=${1%%:*}
	OUT=$(attach "${params#*:}" --format "$format" --mode "$mode" 2>&1) &&
		fail "attach of $params succeeded: $OUT"
	ATTACH_OUT=$OUT
	expect_out "libxl: backend $be in InitWait: running $script add"
	expect_out "blkbackd cannot serve xvdb to domain $dom (guest1): "
	expect_out "$why"
	expect_out "libxl: error: script: blkbackd cannot serve xvdb to domain $dom"
	# The message is on the script's stderr too, not only in libxl's line.
	[ "$(grep -c -F "$why" <<<"$OUT")" -ge 2 ] || fail "$params: not on stderr: $OUT"
	err=$(xs read "$be/hotplug-error") || fail "$params: no hotplug-error node"
	[[ $err == *"$why"* ]] || fail "$params: hotplug-error is '$err'"
	wait_for 10 closed || fail "$params: the backend did not close: $(xs read "$be/state")"
	OUT=$(detach --force "$force" 2>&1) || fail "detach after $params failed: $OUT"
	nothing_left "after $params"
}
closed() { [ "$(xs read "$be/state")" = 6 ]; }
bad aio:nbd:server "w" "bad disk spec 'nbd:server': give the server's URI" off
bad aio:file:/nonexistent/vm.img "w" "cannot open /nonexistent/vm.img" off
bad aio:mem:size=0 "w" "bad size '0'" on
bad aio:mem:size=99999999T "w" "bad size '99999999T': too large" off
bad "aio:file:$ro" "w" "cannot open $ro: Permission denied" off
OUT=$ATTACH_OUT
expect_out "add ,ro to use it read-only, or give blkbackd write access (in the xl disk line: access=ro)"
bad "vhd:/srv/vm1.vhd" "w" "blkbackd serves raw images only; in the xl disk line write format=raw" on
# The read-only file serves with access=ro.
OUT=$(attach "file:$ro" --mode r 2>&1) || fail "attach of $ro read-only failed: $OUT"
OUT=$(fe guest1 info xvdb 2>&1) || fail "info on the read-only disk failed: $OUT"
OUT=$(detach 2>&1) || fail "detach of the read-only disk failed: $OUT"
nothing_left "after the read-only disk"
# libxl runs the script only once the backend is in InitWait: with no blkbackd running
# (one that died since), its add says what to do, in hotplug-error too; remove exits 0.
bk_stop
xs write "$be/params" aio:mem:size=1M write "$be/state" 2 || fail "cannot write $be"
run_script() {
	xensim run Domain-0 -- env XENBUS_PATH="backend/vbd3/$dom/51728" XENBUS_TYPE=vbd3 \
		XENBUS_BASE_PATH=backend "$script" "$1"
}
OUT=$(run_script add 2>&1) && fail "add succeeded with no blkbackd running: $OUT"
expect_out "blkbackd cannot serve xvdb to domain $dom (guest1): no blkbackd serves backend kind vbd3"
expect_out "start it (systemctl start blkbackd)"
[[ $(xs read "$be/hotplug-error") == *"no blkbackd serves backend kind vbd3"* ]] ||
	fail "no hotplug-error without a daemon"
OUT=$(run_script remove 2>&1) || fail "remove failed with no blkbackd running: $OUT"
echo "ok: xl disks attach, serve and detach; bad specs fail with blkbackd's reason and leave nothing"
