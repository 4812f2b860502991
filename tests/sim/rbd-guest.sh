#!/usr/bin/env bash
# rbd-guest, in the simulator: a guest's disk on a Ceph image, named as an xl disk line names
# it (backendtype=tap, script=blkbackd, target=rbd:POOL/IMAGE,mon_host=...: libxl writes
# params aio:rbd:..., and tests/sim/xl-libxl.py plays libxl's add and removal with the
# project's hotplug script), gets the userspace frontend's fio-like verify over the whole
# 64 MiB image (512 B to 1 MiB chunks, 16 in flight); the removal leaves nothing; attached
# again, the disk reads back the pattern from the cluster. The real-Xen suite runs nbd-guest
# and qcow2-guest in its emulated dom0, but not this step: a Ceph cluster does not fit there
# (tests/xen/README.md, "rbd-guest"), so the PASS line says where it ran and why.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib-rbd.sh"
source "$here/lib-xl.sh"
WHY="the emulated dom0 cannot hold a Ceph cluster: mon, OSD and the Python ceph CLI add ~100 MB to its 140 MB initramfs, and a memstore OSD needs ~3x the 64 MiB written, in 768 MiB"

rbd_cluster rbd-guest
rbdc create --size 64M rbd/guest || fail "rbd create failed"
bk_sim guest1
xl_init guest1 vbd3
target="rbd:rbd/guest,mon_host=$CEPH_MON_HOST"
attach() { libxl attach "$DOM" 51728 "$target" --script "$SCRIPT"; }
detach() { libxl detach "$DOM" 51728 --script "$SCRIPT"; }

OUT=$(attach 2>&1) || fail "libxl's attach of aio:$target failed: $OUT"
expect_out "libxl: added $BE"
[ "$(xl_node "$BE/hotplug-status")" = connected ] || fail "no hotplug-status connected: $OUT"
OUT=$(fe guest1 verify xvdb --seed 21 --iodepth 16 --bs-min 512 --bs-max 1M 2>&1) ||
	fail "the guest's verify on the rbd disk failed: $OUT"
echo "$OUT" | tail -n 2
[ "$(bk_ctl --kind vbd3 stats guest1 xvdb --json | python3 -c \
	'import json,sys; print(json.load(sys.stdin)[0]["err_req"])')" = 0 ] ||
	fail "blkbackd counted failed requests on the rbd disk"
OUT=$(detach 2>&1) || fail "libxl's removal failed: $OUT"
expect_out "libxl: removed $BE"
xl_nothing_left "after detaching the rbd disk"

# What the guest wrote is in the cluster: attached again, it reads back.
OUT=$(attach 2>&1) || fail "the second attach failed: $OUT"
OUT=$(fe guest1 verify xvdb --seed 21 --mode read 2>&1) ||
	fail "the pattern does not read back after detach and attach: $OUT"
OUT=$(detach 2>&1) || fail "the second removal failed: $OUT"
xl_nothing_left "after the second detach"
bk_serving || fail "blkbackd stopped answering"
echo "PASS rbd-guest (xensim: $WHY)"
