#!/usr/bin/env bash
# blkbackd killed with SIGKILL, and later handed over (blkbackctl handover, for an upgrade),
# while guests write and verify: the next blkbackd takes over the connected file and uring
# disks from their ring journals, every request in flight is answered exactly once, and the
# guests' verify runs finish with every block as written. A mem disk cannot survive its
# daemon: the next one closes it, and its guest sees the disk go away. guest4's read is
# held by fault=...:stall when the daemon dies, so one request is certainly in flight: the
# next daemon runs it again, and once unstalled it returns the file's bytes (guest4's two
# disks read one image: read-only, as a file used read-write has one user). At a last
# handover another read is held: the old daemon leaves it behind after 10 s, as it would a
# hung NFS server's, and the next one runs it again.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

bk_sim guest1 guest2 guest3 guest4
truncate -s 512M "$XENSIM_DIR/g1.img" "$XENSIM_DIR/g2.img"
head -c 8M /dev/urandom >"$XENSIM_DIR/g4.img"
bk_ctl attach guest1 "file:$XENSIM_DIR/g1.img" --vdev xvdb --nowait
bk_ctl attach guest2 "uring:$XENSIM_DIR/g2.img" --vdev xvdb --nowait
bk_ctl attach guest3 mem:size=32M,name=g3scratch --vdev xvdb --nowait
fe_bg "$XENSIM_DIR/g1.log" guest1 verify xvdb --seed 11 --iodepth 16 --passes 6 --queues 2
g1=$FE_PID
fe_bg "$XENSIM_DIR/g2.log" guest2 verify xvdb --seed 22 --iodepth 32 --passes 6 --bs-max 1M --indirect-segs 256
g2=$FE_PID
fe_bg "$XENSIM_DIR/g3.log" guest3 bench xvdb --rw randwrite --iodepth 16 --runtime 120
g3=$FE_PID
bk_ctl attach guest4 "file:$XENSIM_DIR/g4.img,ro,fault=2048+8:stall" --vdev xvdb --nowait
"$BUILD/xensim" run guest4 -- "$BUILD/blkfront" read xvdb 1M 4096 >"$XENSIM_DIR/g4.out" \
	2>"$XENSIM_DIR/g4.err" &
g4=$!
held() { [ "$(bk_stat guest4 "${1:-xvdb}" inflight 2>/dev/null)" = 1 ]; }
wait_for 30 held || fail "guest4's read never reached blkbackd"

# Writes of all three guests under way.
busy() { [ "$(bk_stat "$1" xvdb wr_req 2>/dev/null || echo 0)" -ge 300 ]; }
for g in guest3 guest2 guest1; do
	wait_for 30 busy $g || fail "$g's writes never reached blkbackd"
done

# SIGKILL: nothing of blkbackd runs, its mappings and event channels die with it.
old=$BK_PID
kill -KILL "$BK_PID"
wait "$BK_PID" 2>/dev/null
BK_PID=
echo "killed blkbackd $old with requests in flight"
bk_start
# A disk's storage opens on a thread of its own: the take-over follows, after bk_start.
for g in 1 2; do
	id=$(xensim list | awk -v n=guest$g '$2 == n {print $1}')
	wait_for 30 grep -q "d$id xvdb: took over from an earlier blkbackd" "$BK_LOG" ||
		fail "the new blkbackd did not take over guest$g's disk: $(grep -v debug "$BK_LOG" | tail -n 30)"
done
grep -o "took over the ring: [0-9]* requests\? to run again" "$BK_LOG" | sort | uniq -c
id=$(xensim list | awk '$2 == "guest4" {print $1}')
wait_for 30 grep -q "d$id xvdb: took over the ring: 1 request to run again" "$BK_LOG" ||
	fail "the new blkbackd did not run guest4's held read again: $(grep "d$id " "$BK_LOG" | tail -n 5)"
wait_for 30 held || fail "guest4's read run again is not in flight"
bk_ctl unstall guest4 xvdb
wait "$g4" || fail "guest4's read failed after the restart: $(cat "$XENSIM_DIR/g4.err")"
tail -c +$((1024 * 1024 + 1)) "$XENSIM_DIR/g4.img" | head -c 4096 | cmp -s - "$XENSIM_DIR/g4.out" ||
	fail "guest4's read, run again by the new blkbackd, returned the wrong bytes"
echo "guest4's read, held when blkbackd died, was run again and returned the file's bytes"
wait_for 30 grep -q "its mem disk died with it; closing the device" "$BK_LOG" ||
	fail "the new blkbackd did not close the mem disk it cannot serve"
rc=0
wait "$g3" || rc=$?
[ "$rc" -ne 0 ] || fail "guest3's bench finished although its mem disk went away"
echo "guest3's frontend saw its mem disk close and exited $rc"
# Its named ramdisk died with the killed daemon: the name is free in the new one, for a
# ramdisk of another size too (the take-over must not have made an empty one under it).
bk_ctl detach guest3 xvdb >/dev/null || fail "cannot detach guest3's closed mem disk"
bk_ctl attach guest3 mem:size=16M,name=g3scratch --vdev xvdb --nowait ||
	fail "the name of guest3's ramdisk, which died with the killed daemon, is still taken"
bk_ctl detach guest3 xvdb >/dev/null || fail "cannot detach guest3's new mem disk"

# Then a handover, as for an upgrade: the old daemon answers what is in flight and exits 0.
served() { [ "$(bk_stat guest1 xvdb "$1" 2>/dev/null || echo 0)" -gt 0 ]; }
wait_for 30 served rd_req || wait_for 30 served wr_req ||
	fail "guest1's I/O did not resume after the restart"
bk_handover "$XENSIM_DIR/handover.out"
grep -q "next blkbackd" "$XENSIM_DIR/handover.out" || fail "handover did not say what happens"
bk_start
took_over() { [ "$(grep -c "took over from an earlier blkbackd" "$BK_LOG")" -ge "$1" ]; }
wait_for 30 took_over 4 ||
	fail "the third blkbackd did not take over both disks: $(grep -v debug "$BK_LOG" | tail -n 25)"

for g in 1 2; do
	pid=g$g
	wait "${!pid}" || { tail -n 20 "$XENSIM_DIR/g$g.log"; fail "guest$g's verify failed"; }
done
echo "both verify runs passed across a SIGKILL and a handover"

# Last, a handover while guest4 has a read held on another stalling disk (the verify runs
# are over: the old daemon answers no xenstore event while it waits, and blkfront gives a
# closing backend 10 s). It waits for the read at most 10 s, then leaves it in the ring
# journal for the next daemon, which runs it again.
bk_ctl attach guest4 "file:$XENSIM_DIR/g4.img,ro,fault=2048+8:stall" --vdev xvdc --nowait
"$BUILD/xensim" run guest4 -- "$BUILD/blkfront" read xvdc 1M 4096 >"$XENSIM_DIR/g4.out" \
	2>"$XENSIM_DIR/g4.err" &
g4=$!
wait_for 30 held xvdc || fail "guest4's read of xvdc never reached blkbackd"
bk_ctl handover | grep -q "next blkbackd" || fail "handover did not say what happens"
rc=0
wait "$BK_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "blkbackd exited $rc after the handover with a read held"
grep -q "d$id xvdc: its storage has not answered in 10 s" "$BK_LOG" ||
	fail "the old blkbackd did not say it left guest4's held read behind"
no_sanitizer_reports "$BK_LOG" blkbackd
BK_PID=
bk_start
wait_for 30 grep -q "d$id xvdc: took over the ring: 1 request to run again" "$BK_LOG" ||
	fail "the fourth blkbackd did not run guest4's held read again"
wait_for 30 held xvdc || fail "guest4's read run again after the handover is not in flight"
bk_ctl unstall guest4 xvdc
wait "$g4" || fail "guest4's read failed after the handover: $(cat "$XENSIM_DIR/g4.err")"
tail -c +$((1024 * 1024 + 1)) "$XENSIM_DIR/g4.img" | head -c 4096 | cmp -s - "$XENSIM_DIR/g4.out" ||
	fail "guest4's read, run again after the handover, returned the wrong bytes"
echo "guest4's read, held at a handover, was left after 10 s and run again by the next daemon"

# A clean detach removes the journals; nothing is left mapped in dom0.
bk_ctl detach guest1 xvdb
bk_ctl detach guest2 xvdb
bk_ctl detach guest4 xvdb
bk_ctl detach guest4 xvdc
left=$(ls "$BLKBACKD_RUNDIR"/vbd3.state/ 2>/dev/null | wc -l)
[ "$left" -eq 0 ] || fail "ring journals left after detach: $(ls "$BLKBACKD_RUNDIR"/vbd3.state/)"
