#!/usr/bin/env bash
# blkbackd killed (SIGKILL) under a guest's verify of an rbd disk, and started again: the
# new daemon takes the disk over once the cluster lets the dead one's exclusive lock go
# (its watch lapses: 5 s in this cluster, osd_client_watch_timeout), breaking the lock,
# and the guest's verify goes on and finds every block it was told was written: no write
# is answered from memory that dies with the daemon (librbd's cache is off).
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib-rbd.sh"
rbd_cluster rbd-kill
rbdc create --size 64M rbd/k || fail "rbd create failed"

bk_sim guest1
bk_ctl attach guest1 "rbd:rbd/k,mon_host=$CEPH_MON_HOST" --vdev xvdb --nowait >/dev/null ||
	fail "attach failed"
# A write, and the flush that follows it where the disk offers one.
head -c 4096 /dev/urandom >"$dir/first.bin"
fe guest1 write xvdb 60M <"$dir/first.bin" >/dev/null || fail "the first write failed"

# Whole passes written so far (each writes 16 MiB, 32768 sectors).
passes() { local w; w=$(bk_stat guest1 xvdb wr_sect) && echo $((w / 32768)); }
# 30 passes (a few seconds without the pause): the kill comes in the third or so.
fe_bg "$dir/verify.log" guest1 verify xvdb --size 16M --passes 30 --io-timeout 120
busy() { [ "$(passes)" -ge 2 ]; }
wait_for 60 busy || fail "the guest's verify did not get going: $(tail -3 "$dir/verify.log")"
before=$(passes)
kill -KILL "$BK_PID"
wait "$BK_PID" 2>/dev/null
BK_PID=
echo "blkbackd killed during pass $((before + 1)) of the guest's verify"

bk_start
took_over() { grep -q "d1 xvdb: took over from an earlier blkbackd" "$BK_LOG"; }
wait_for 60 took_over || fail "the new blkbackd did not take the disk over: $(tail -5 "$BK_LOG")"
[ "$before" -lt 30 ] || fail "the verify had ended before the kill: $(tail -2 "$dir/verify.log")"
wait "$FE_PID" || fail "the guest's verify failed: $(tail -5 "$dir/verify.log")"
grep -q "all .* blocks good" "$dir/verify.log" || fail "the verify says: $(tail -2 "$dir/verify.log")"
fe guest1 read xvdb 60M 4096 >"$dir/first.back" || fail "read of the first write failed"
cmp -s "$dir/first.bin" "$dir/first.back" || fail "the first write is lost"
echo "the new blkbackd took the disk over; the verify went on to its 30th pass with every block good"
echo "PASS rbd-kill"
