#!/usr/bin/env bash
# The OSD of an rbd disk killed under a guest's verified I/O, then started again: the
# requests wait (no error reaches the guest) and complete once it is back, and the verify
# passes; meanwhile another guest's disk of the same daemon serves verify after verify and
# blkbackctl answers. The OSD keeps its objects in a file (bluestore): memstore would
# lose them when killed.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib-rbd.sh"
CEPH_STORE=bluestore rbd_cluster rbd-osd-restart /var/tmp	# bluestore opens its file O_DIRECT
rbdc create --size 64M rbd/a || fail "rbd create failed"

bk_sim guest1 guest2
bk_ctl attach guest1 "rbd:rbd/a,mon_host=$CEPH_MON_HOST" --vdev xvdb --nowait >/dev/null ||
	fail "attach of the rbd disk failed"
bk_ctl attach guest2 mem:size=16M --vdev xvdb --nowait >/dev/null || fail "attach of the ramdisk failed"
# The rbd disk's sectors read and written so far, as "READ WRITTEN".
sects() {
	bk_ctl stats guest1 xvdb --json | python3 -c \
		'import json,sys; d=json.load(sys.stdin)[0]; print(d["rd_sect"], d["wr_sect"])' ||
		fail "blkbackctl stats got no answer"
}

# Two passes over the whole image (more than librbd's cache holds), patient with a pause.
fe_bg "$dir/verify.log" guest1 verify xvdb --seed 11 --passes 2 --io-timeout 120
writing() { [ "$(bk_stat guest1 xvdb wr_sect)" -ge 8192 ]; }
wait_for 60 writing || fail "the guest's verify wrote nothing: $(cat "$dir/verify.log")"
ceph_osd_kill
echo "OSD killed with the guest's verify under way ($(sects))"

# Stuck: nothing of the rbd disk completes across another guest's whole verify and a
# blkbackctl stats, with requests in storage. Each try is a full verify of the other disk.
others=0
stuck() {
	local a b
	a=$(sects)
	fe guest2 verify xvdb --seed $((100 + others)) --passes 1 >/dev/null ||
		fail "the other guest's ramdisk failed its verify while the OSD was down"
	others=$((others + 1))
	bk_ctl stats >/dev/null || fail "blkbackctl stats got no answer while the OSD was down"
	b=$(sects)
	[ -n "$a" ] && [ "$a" = "$b" ] && [ "$(bk_stat guest1 xvdb inflight)" -gt 0 ]
}
wait_for 60 stuck || fail "the rbd disk's I/O did not wait for the dead OSD ($(sects))"
kill -0 "$FE_PID" 2>/dev/null || fail "the verify ended while the OSD was down: $(cat "$dir/verify.log")"
echo "while the OSD was down: the rbd disk's requests waited ($(bk_stat guest1 xvdb inflight) in storage, sectors $(sects) read/written), the other disk passed $others verifies, blkbackctl answered"

ceph_osd_start
wait "$FE_PID" || fail "the guest's verify failed after the OSD came back: $(cat "$dir/verify.log")"
[ "$(bk_stat guest1 xvdb err_req)" = 0 ] || fail "$(bk_stat guest1 xvdb err_req) requests failed"
fe guest1 verify xvdb --seed 12 --mode read >/dev/null ||
	fail "the last pass's pattern does not read back after the restart"
bk_serving || fail "blkbackd stopped answering"
bk_ctl detach guest1 xvdb --timeout 10 --force >/dev/null || fail "detach failed"
echo "PASS rbd-osd-restart"
