#!/usr/bin/env bash
# Disk images served through qemu-storage-daemon: the engine conformance checks
# (tests/unit/engine-harness.h, in tests/sim/qcow2-engine.c) on a qcow2, a vhdx and a raw
# image made with qemu-img: read/write/verify, flush, discard (it reaches the image: qemu-img
# map shows the range unallocated), zeroes through write-zeroes (4 KiB inside a 64 KiB
# cluster too), two queues, read-only, sizes; qemu-img check finds the qcow2 sound. Then
# through blkbackd in the simulator: a guest verifies a qcow2 and a vmdk disk; blkbackd is
# killed (SIGKILL) under the guest's verify: its qemu-storage-daemon goes too (SIGTERM from
# the kernel, so qemu flushes the image), the next blkbackd serves the image again and the
# verify passes; a handover the same; each detach, and a SIGTERM with a disk attached, leaves
# no process, socket or directory.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-image.sh"
requires python3

[ -x "$BUILD/tests/sim/qcow2-engine" ] || fail "$BUILD/tests/sim/qcow2-engine is not built"
image_setup
image_make qcow2 disk.qcow2 8M
image_make vhdx disk.vhdx 8M
image_make raw disk.raw 8M
TMPDIR=$IMG_DIR "$BUILD/tests/sim/qcow2-engine" "$IMG_DIR" ||
	{ echo "FAIL qcow2-conformance: see above"; exit 1; }
qsd_nothing_left "$IMG_DIR" "after the engine checks"
# The discard of [6 MiB, 8 MiB) reached the image: qemu-img map shows no data there.
qemu-img map --output=json "$IMG_DIR/disk.qcow2" | python3 -c '
import json, sys
lo, hi = 6 << 20, 8 << 20
bad = [e for e in json.load(sys.stdin) if e["data"] and e["start"] < hi and e["start"] + e["length"] > lo]
sys.exit("data left in the discarded range: %s" % bad if bad else 0)' ||
	fail "the discard did not reach the qcow2 image"
OUT=$(qemu-img check "$IMG_DIR/disk.qcow2" 2>&1) || fail "qemu-img check: $OUT"

# A guest through blkbackd: a qcow2 and a vmdk disk.
image_make qcow2 vm.qcow2 64M
image_make vmdk vm.vmdk 32M
bk_sim guest1
IMAGES=$BLKBACKD_RUNDIR/vbd3.images
bk_ctl attach guest1 "qcow2:$IMG_DIR/vm.qcow2" --vdev xvdb --nowait >/dev/null ||
	fail "attach of the qcow2 failed"
bk_ctl attach guest1 "vmdk:$IMG_DIR/vm.vmdk" --vdev xvdc --nowait >/dev/null ||
	fail "attach of the vmdk failed"
[ "$(qsd_pids "$IMAGES" | wc -l)" -eq 2 ] || fail "not one qemu-storage-daemon per disk: $(qsd_pids "$IMAGES")"
fe guest1 verify xvdc --seed 5 --iodepth 16 >/dev/null || fail "verify on the vmdk failed"
bk_ctl detach guest1 xvdc >/dev/null || fail "detach of the vmdk failed"
# (The storage closes after the device: its qemu-storage-daemon goes then.)
one_left() { [ "$(qsd_pids "$IMAGES" | wc -l)" -eq 1 ]; }
wait_for 20 one_left || fail "the vmdk's qemu-storage-daemon outlived its detach"
OUT=$(qemu-img check "$IMG_DIR/vm.vmdk" 2>&1) || fail "qemu-img check of the vmdk: $OUT"

# Killed under the guest's verify: its qemu-storage-daemon stops (the kernel's SIGTERM),
# the next blkbackd stops any it finds left, starts its own and serves the disk again.
fe_bg "$XENSIM_DIR/verify.log" guest1 verify xvdb --seed 11 --iodepth 16 --passes 10
vpid=$FE_PID
written() { [ "$(bk_stat guest1 xvdb wr_sect)" -ge "$1" ]; }
wait_for 60 written 8192 || { cat "$XENSIM_DIR/verify.log"; fail "the guest wrote nothing"; }
old=$(qsd_pids "$IMAGES")
kill -KILL "$BK_PID"
wait "$BK_PID" 2>/dev/null
BK_PID=
wait_for 20 qsd_gone "$IMAGES" || fail "qemu-storage-daemon $old outlived the killed blkbackd"
echo "blkbackd killed; qemu-storage-daemon $old exited with it"
bk_start
took() { grep -q "xvdb: took over from an earlier blkbackd" "$BK_LOG"; }
wait_for 30 took || { tail -n 20 "$BK_LOG"; fail "the next blkbackd did not take over the qcow2 disk"; }
new=$(qsd_pids "$IMAGES")
[ -n "$new" ] && [ "$new" != "$old" ] || fail "no new qemu-storage-daemon (old $old, now '$new')"
# A handover, as for an upgrade: the old daemon stops its qemu-storage-daemon, the next
# starts one.
bk_handover
qsd_gone "$IMAGES" || fail "qemu-storage-daemon left by the handover: $(qsd_pids "$IMAGES")"
bk_start
bk_verify_through "$vpid" "the kill and the handover"
fe guest1 verify xvdb --seed 20 --mode read >/dev/null || fail "the image lost what the guest wrote"
bk_ctl detach guest1 xvdb >/dev/null || fail "detach of the qcow2 failed"
wait_for 20 qsd_gone "$IMAGES" || fail "the qcow2's qemu-storage-daemon outlived its detach"
qsd_nothing_left "$IMAGES" "after detach"
OUT=$(qemu-img check "$IMG_DIR/vm.qcow2" 2>&1) || fail "qemu-img check after the guest: $OUT"
echo "$OUT" | head -1
# SIGTERM with an image disk attached: blkbackd stops its qemu-storage-daemon as it exits.
bk_ctl attach guest1 "qcow2:$IMG_DIR/vm.qcow2" --vdev xvdb --nowait >/dev/null ||
	fail "attach before SIGTERM failed"
qsd_gone "$IMAGES" && fail "no qemu-storage-daemon serves the attached disk"
bk_stop
qsd_nothing_left "$IMAGES" "after SIGTERM"
echo "PASS qcow2-conformance"
