#!/usr/bin/env bash
# The hotplug script's add while blkbackd restarts. A daemon that went InitWait for an xl
# disk (blkbackd-status "opening") and stopped before libxl ran the script (systemctl
# restart's handover, or a crash and Restart=on-failure) leaves the device to its
# successor, which opens the storage again and says what became of it. The script's add,
# started in that gap with no live daemon, waits for that verdict (it fails at once only
# for a device no daemon has looked at):
#  - with the verdict written by hand while no daemon runs, it exits 0 on "open";
#  - with a real successor started after it, it exits 0 once that one has opened the disk.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-xl.sh"
requires python3

sim_start
xensim create guest1 >/dev/null || fail "cannot create guest1"
export BLKBACKD_RUNDIR=$XENSIM_DIR/blkbackd
xl_init guest1 vbd3
dom=$DOM
xs() { xensim run Domain-0 -- python3 "$here/xs-raw.py" "$@"; }
# What libxl writes for device $1 (xvdb, xvdc), and what a blkbackd that went InitWait
# and then stopped left there.
left_opening() {
	local be=/local/domain/0/backend/vbd3/$dom/$1 fe=/local/domain/$dom/device/vbd/$1
	xs write "$fe/backend" "$be" write "$fe/backend-id" 0 write "$fe/state" 1 \
		write "$fe/virtual-device" "$1" write "$fe/device-type" disk \
		write "$fe/protocol" x86_64-abi \
		write "$be/frontend" "$fe" write "$be/frontend-id" "$dom" write "$be/online" 1 \
		write "$be/params" aio:mem:size=4M write "$be/script" "$SCRIPT" \
		write "$be/type" vbd3 write "$be/mode" w write "$be/device-type" disk \
		write "$be/max-ring-page-order" 4 write "$be/multi-queue-max-queues" 1 \
		write "$be/blkbackd-status" opening write "$be/state" 2 ||
		fail "cannot write the nodes of $1"
}
# The script's add for device $1 in the background, as libxl runs it; its pid in ADD.
add_bg() {
	xensim run Domain-0 -- env XENBUS_PATH="backend/vbd3/$dom/$1" XENBUS_TYPE=vbd3 \
		XENBUS_BASE_PATH=backend "$SCRIPT" add >"$XENSIM_DIR/xl-stderr.$1" 2>&1 &
	ADD=$!
	cleanup_add "kill $ADD 2>/dev/null"
}
# Wait for the add of device $1 (pid $2): it must exit 0, with hotplug-status connected.
add_ok() {
	local rc=0 be=/local/domain/0/backend/vbd3/$dom/$1
	wait "$2" || rc=$?
	[ "$rc" = 0 ] || fail "$3: the script's add failed ($rc): $(cat "$XENSIM_DIR/xl-stderr.$1")"
	[ "$(xl_node "$be/hotplug-status")" = connected ] || fail "$3: hotplug-status is not connected"
}

# The verdict comes while no daemon runs (written here, as a successor writes it).
left_opening 51728
add_bg 51728
xs write "/local/domain/0/backend/vbd3/$dom/51728/blkbackd-status" open ||
	fail "cannot write the verdict"
add_ok 51728 "$ADD" "a verdict written with no daemon running"

# A real successor, started after the script.
left_opening 51744
add_bg 51744
add=$ADD
bk_start
add_ok 51744 "$add" "a successor started after the script"
[ "$(xl_node "/local/domain/0/backend/vbd3/$dom/51744/blkbackd-status")" = open ] ||
	fail "the successor did not say open"
bk_ctl stats "$dom" xvdc >/dev/null || fail "the successor does not serve xvdc"

# A removal its predecessor had begun: libxl set the disk offline, the old daemon wrote
# Closed and stopped before it had closed the storage. The successor has nothing to
# serve: it leaves the disk Closed (never InitWait, which makes a Closed blkfront connect
# again), does not open the storage (whose lock would keep the image from a new attach),
# and says "released", which the script's remove waits for.
bk_stop
img=$XENSIM_DIR/vm-removed.img
truncate -s 4M "$img"
left_opening 51760
be=/local/domain/0/backend/vbd3/$dom/51760
xs write "$be/params" "aio:file:$img" write "$be/online" 0 write "/local/domain/$dom/device/vbd/51760/state" 6 \
	write "$be/blkbackd-status" open write "$be/state" 6 || fail "cannot write the removal"
bk_start
released() { [ "$(xl_node "$be/blkbackd-status")" = released ]; }
wait_for 20 released || fail "the successor did not say released: $(xl_node "$be/blkbackd-status")"
[ "$(xl_node "$be/state")" = 6 ] || fail "the disk being removed is not Closed"
! grep -E "d$dom xvdd: (backend .*-> InitWait|.*vm-removed.img)" "$BK_LOG" ||
	fail "the successor went InitWait, or opened the storage, for a disk being removed"
echo "ok: the script's add waited across a restart of blkbackd for its successor's verdict;"
echo "    a removal begun before the restart ended Closed and released"
