#!/usr/bin/env bash
# One disk whose storage hangs inside a system call freezes nothing else. The disk's
# image lives on hangfs (tests/sim/lib-hangfs.sh), a FUSE file system that holds chosen
# requests in the kernel, as a dead NFS server or a hung FUSE daemon does. While
# blkbackd's open(2) of the image hangs (an attach), its ftruncate (a resize under the
# guest's I/O) or its close (a detach: the close's FLUSH), another guest's mem disk
# attaches, passes blkfront verify and detaches, and `blkbackctl stats` answers. Once let
# go, the hung call finishes: the disk attaches and serves, is resized, or is released.
# What arrives meanwhile waits for the call and is then acted on: a second resize is
# "busy", a detach completes after the resize, a guest that died has its disk removed
# once the open ends. SIGTERM while an open hangs: blkbackd waits its 10 s for storage,
# says what still runs, and exits 0 once the kernel lets its thread go.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-hangfs.sh"
requires python3 timeout

bk_sim guest1 guest2
id1=$(xensim list | awk '$2 == "guest1" {print $1}')
# How many times the log says $1; and wait until it says it more than $2 times.
log_count() { grep -c "$1" "$BK_LOG"; }
log_more() { [ "$(log_count "$1")" -gt "$2" ]; }
mkdir -p "$XENSIM_DIR/hangfs"
hangfs_start "$XENSIM_DIR/hangfs"
img=$HANGFS_MNT/disk.img
truncate -s 16M "$img" || fail "cannot create $img on hangfs"

# Another guest's disk: attached, verified, detached; and the control socket answers.
# Bounded: with a frozen daemon each step fails after 20 s instead of hanging.
others_go_on() {
	timeout 20 "$BUILD/xensim" run Domain-0 -- "$BUILD/blkbackctl" attach guest2 \
		mem:size=8M --vdev xvdb --nowait --timeout 20 >/dev/null ||
		fail "while $1 hangs, guest2's disk does not attach"
	timeout 20 "$BUILD/xensim" run guest2 -- "$BUILD/blkfront" verify xvdb --seed 7 \
		>"$XENSIM_DIR/verify2.log" 2>&1 ||
		fail "while $1 hangs, verify on guest2's disk fails: $(tail -n 3 "$XENSIM_DIR/verify2.log")"
	timeout 20 "$BUILD/xensim" run Domain-0 -- "$BUILD/blkbackctl" detach guest2 xvdb \
		--timeout 20 >/dev/null || fail "while $1 hangs, guest2's disk does not detach"
	timeout 20 "$BUILD/xensim" run Domain-0 -- "$BUILD/blkbackctl" stats \
		>"$XENSIM_DIR/stats.log" 2>&1 || fail "while $1 hangs, blkbackctl stats gets no answer"
	grep -q "xvdb" "$XENSIM_DIR/stats.log" ||
		fail "while $1 hangs, stats does not list the hung disk: $(cat "$XENSIM_DIR/stats.log")"
	echo "while $1 hangs: guest2 attached, verified and detached a disk; stats answered"
}

# 1. An attach whose open(2) hangs.
hangfs_hang open
bk_ctl attach guest1 "file:$img" --vdev xvdb --nowait --timeout 120 \
	>"$XENSIM_DIR/attach1.log" 2>&1 &
attach=$!
cleanup_add "kill $attach 2>/dev/null"
hangfs_wait open held 30 || fail "blkbackd never opened $img"
others_go_on "an open"
hangfs_release open
wait "$attach" || fail "the attach failed once its open was let go: $(cat "$XENSIM_DIR/attach1.log")"
fe guest1 verify xvdb --seed 3 >"$XENSIM_DIR/verify1.log" 2>&1 ||
	fail "the disk whose open hung does not serve: $(tail -n 3 "$XENSIM_DIR/verify1.log")"
echo "the disk whose open hung attached and passed verify"

# 2. A resize whose ftruncate hangs under a guest's I/O (its ring held still meanwhile); a
# second resize is busy, and a detach (the frontend asked to close) waits for the resize.
fe_bg "$XENSIM_DIR/bench.log" guest1 bench xvdb --rw randrw --iodepth 4 --runtime 600
bench=$FE_PID
cleanup_add "kill $bench 2>/dev/null"
busy() { [ "$(bk_stat guest1 xvdb rd_req 2>/dev/null || echo 0)" -gt 0 ]; }
wait_for 30 busy || fail "guest1's I/O never reached blkbackd"
hangfs_hang truncate
bk_ctl resize guest1 xvdb 32M >"$XENSIM_DIR/resize.log" 2>&1 &
resize=$!
cleanup_add "kill $resize 2>/dev/null"
hangfs_wait truncate held 30 || fail "blkbackd never truncated $img"
others_go_on "a resize"
expect_fail timeout 20 "$BUILD/xensim" run Domain-0 -- "$BUILD/blkbackctl" resize guest1 xvdb 48M
expect_out "busy"
online_events() { grep -c "watch backend fired: .*/vbd3/$id1/51728/online$" "$BK_LOG"; }
before=$(online_events)
bk_ctl detach guest1 xvdb --timeout 60 >"$XENSIM_DIR/detach.log" 2>&1 &
detach=$!
cleanup_add "kill $detach 2>/dev/null"
more_online_events() { [ "$(online_events)" -gt "$before" ]; }
wait_for 20 more_online_events || fail "the detach never reached blkbackd"
hangfs_release truncate
wait "$resize" || fail "the resize failed once let go: $(cat "$XENSIM_DIR/resize.log")"
wait "$detach" || fail "the detach that waited for the resize failed: $(cat "$XENSIM_DIR/detach.log")"
wait "$bench" 2>/dev/null
[ "$(stat -c %s "$img")" = 33554432 ] || fail "the image is not 32 MiB after the resize"
bk_ctl attach guest1 "file:$img" --vdev xvdb --nowait >/dev/null
fe guest1 info xvdb >"$XENSIM_DIR/info.log" 2>&1 || fail "guest1 cannot connect after the resize"
grep -q "33554432\|32 MiB\|65536" "$XENSIM_DIR/info.log" ||
	fail "guest1 does not see the new size: $(cat "$XENSIM_DIR/info.log")"
echo "the resize whose ftruncate hung finished, then the detach that waited for it; a second"
echo "resize meanwhile was refused as busy"

# 3. A detach whose close hangs (close(2) sends FLUSH and waits for it).
released=$(log_count "d$id1 xvdb: device released")
hangfs_hang flush
bk_ctl detach guest1 xvdb --timeout 30 || fail "the detach failed"
hangfs_wait flush held 30 || fail "blkbackd never closed $img"
others_go_on "a close"
! log_more "d$id1 xvdb: device released" "$released" ||
	fail "the disk whose close hangs was released before its close ended"
hangfs_release flush
wait_for 30 log_more "d$id1 xvdb: device released" "$released" ||
	fail "the disk whose close hung was never released"
echo "the disk whose close hung was released once its storage answered"

# 4. The guest's domain dies while its disk's open hangs: once the open ends, the disk is
# closed and its nodes removed, and blkbackd holds nothing of the image.
xensim create guest3 >/dev/null
id3=$(xensim list | awk '$2 == "guest3" {print $1}')
hangfs_hang open
bk_ctl attach guest3 "file:$img" --vdev xvdb --nowait --timeout 120 >/dev/null 2>&1 &
cleanup_add "kill $! 2>/dev/null"
hangfs_wait open held 30 || fail "blkbackd never opened $img for guest3"
xensim destroy guest3
wait_for 20 grep -q "d$id3 xvdb: domain $id3 is gone" "$BK_LOG" ||
	fail "blkbackd did not see guest3 die"
others_go_on "an open of a dead guest's disk"
! grep -q "d$id3 xvdb: device removed" "$BK_LOG" ||
	fail "the dead guest's disk was removed before its open ended"
hangfs_release open
wait_for 30 grep -q "d$id3 xvdb: device removed" "$BK_LOG" ||
	fail "the dead guest's disk was not removed once its open ended"
holds_image() { ls -l "/proc/$BK_PID/fd" 2>/dev/null | grep -q "$img"; }
wait_for 20 eval '! holds_image' || fail "blkbackd still holds $img open"
echo "a guest died while its disk's open hung: once the open ended, the disk was removed"

# 5. SIGTERM while an open hangs: blkbackd waits its bound, says so, and exits 0.
hangfs_hang open
bk_ctl attach guest1 "file:$img" --vdev xvdc --nowait --timeout 120 >/dev/null 2>&1 &
cleanup_add "kill $! 2>/dev/null"
hangfs_wait open held 30 || fail "blkbackd never opened $img for xvdc"
kill -TERM "$BK_PID"
wait_for 30 grep -q "xvdc: its storage has not answered in 10 s (the open still runs); exiting" \
	"$BK_LOG" || fail "blkbackd did not give up on the hung open within its bound"
# The process ends once the kernel lets its thread out of the hung open(2).
hangfs_release all
rc=0
wait "$BK_PID" || rc=$?
BK_PID=
no_sanitizer_reports "$BK_LOG" blkbackd
[ "$rc" -eq 0 ] || fail "blkbackd exited with status $rc"
echo "SIGTERM while an open hung: blkbackd gave up on it after 10 s and exited 0"
