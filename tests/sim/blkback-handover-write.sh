#!/usr/bin/env bash
# A handover with a guest's write still in storage: the old blkbackd gives up waiting for it
# (BLKBACKD_SHUTDOWN_WAIT=2 here, 10 s by default) and leaves its disks to a successor, but
# one of its threads may still be inside the write. The successor must not serve the disk
# before that thread has gone: it would run the write again from the ring journal, the
# guest would write the block anew, and the old write could land last, older data over
# newer. So the old daemon's pidfile says it is leaving and stays locked until its last
# thread has exited; the successor waits for it, saying so; blkbackctl handover returns
# once the old process has gone.
#  - userspace stall (fault=...:stall on a file: disk): the write is held inside blkbackd;
#    the old process's exit drops it, the successor runs it again, then the guest's next
#    write to the same sectors is what the file holds.
#  - a write held inside the kernel (a FUSE file system, tests/sim/hangfs, holds it) on a
#    file: and a uring: disk: the successor waits until the write is released and the
#    old process has exited, then runs it again; the guest's newer write stays.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-hangfs.sh"
requires python3

export BLKBACKD_SHUTDOWN_WAIT=2
bk_sim guest1
gid=$(xensim list | awk '$2 == "guest1" {print $1}')
A=$XENSIM_DIR/A B=$XENSIM_DIR/B
head -c 64K /dev/urandom >"$A"
head -c 64K /dev/urandom >"$B"
n=0

# The 64 KiB at 1 MiB of file $1.
at_1M() { tail -c +$((1024 * 1024 + 1)) "$1" | head -c 65536; }

# Start the next blkbackd, logging to a log of its own, without waiting for it to serve.
start_next() {
	n=$((n + 1))
	BK_LOG=$XENSIM_DIR/blkbackd-$n.log
	: >"$BK_LOG"
	"$BUILD/xensim" run Domain-0 -- "$BUILD/blkbackd" -d xs >"$BK_LOG" 2>&1 &
	BK_PID=$!
}

# blkbackctl handover in the background ($HO_PID, output in $HO_OUT), once the guest's
# write to vdev $1 is held; returns when the old daemon ($OLD, log $OLD_LOG) has given up
# waiting for it.
handover_bg() {
	OLD=$BK_PID OLD_LOG=$BK_LOG HO_OUT=$XENSIM_DIR/handover-$n.out
	bk_ctl handover >"$HO_OUT" 2>&1 &
	HO_PID=$!
	wait_for 30 grep -q "d$gid $1: its storage has not answered in" "$OLD_LOG" ||
		fail "the old blkbackd did not give up waiting for the held write: $(tail -n 5 "$OLD_LOG")"
}

# The old daemon must exit 0 with a clean sanitizer log, and the handover succeed.
old_gone() {
	local rc=0
	wait "$OLD" || rc=$?
	[ "$rc" -eq 0 ] || fail "the old blkbackd exited $rc: $(tail -n 5 "$OLD_LOG")"
	no_sanitizer_reports "$OLD_LOG" "the old blkbackd"
	wait "$HO_PID" || fail "blkbackctl handover failed: $(cat "$HO_OUT")"
	grep -q "next blkbackd" "$HO_OUT" || fail "handover did not say what happens: $(cat "$HO_OUT")"
}

# After the take-over: the held write A completed, then the guest writes B over it; the
# guest and the file read B.
newer_stays() {
	local what=$1 vdev=$2 img=$3
	wait "$WRITER" || fail "$what: the write held at the handover failed: $(cat "$WRITER_LOG")"
	fe guest1 write "$vdev" 1M <"$B" >/dev/null || fail "$what: the newer write failed"
	fe guest1 read "$vdev" 1M 64K | cmp -s - "$B" || fail "$what: the guest does not read its newer write"
	at_1M "$img" | cmp -s - "$B" || fail "$what: the file does not hold the newer write"
	echo "$what: the write held at the handover ran again, and the newer one stays"
}

# The guest writes A to vdev $1 at 1 MiB, in the background ($WRITER, output in $WRITER_LOG).
write_A_bg() {
	WRITER_LOG=$XENSIM_DIR/A-$1.log
	"$BUILD/xensim" run guest1 -- "$BUILD/blkfront" write "$1" 1M --io-timeout 120 <"$A" \
		>"$WRITER_LOG" 2>&1 &
	WRITER=$!
}

# 1. Userspace stall: the held write lives in the old process only.
img=$XENSIM_DIR/stall.img
head -c 16M /dev/urandom >"$img"
cp "$img" "$img.orig"
bk_ctl attach guest1 "file:$img,fault=2048+128:stall" --vdev xvdb --nowait
write_A_bg xvdb
held() { [ "$(bk_stat guest1 "$1" inflight 2>/dev/null)" = 1 ]; }
wait_for 30 held xvdb || fail "stall: the write never reached blkbackd"
handover_bg xvdb
old_gone
at_1M "$img" | cmp -s - <(at_1M "$img.orig") ||
	fail "stall: the write held in userspace reached the file after the old daemon exited"
echo "stall: the old daemon exited, and the write it held died with it"
start_next
wait_for 30 bk_serving || fail "stall: the next blkbackd did not start: $(cat "$BK_LOG")"
grep -q "d$gid xvdb: took over the ring: 1 request to run again" "$BK_LOG" ||
	fail "stall: the next blkbackd did not run the held write again: $(grep "d$gid" "$BK_LOG")"
wait_for 30 held xvdb || fail "stall: the write run again is not held"
bk_ctl unstall guest1 xvdb >/dev/null
newer_stays stall xvdb "$img"
bk_ctl detach guest1 xvdb >/dev/null

# 2. A write held inside the kernel (tests/sim/hangfs holds it in FUSE).
mkdir "$XENSIM_DIR/hang"
hangfs_start "$XENSIM_DIR/hang"

# Attach engine $1's image on the FUSE mount as vdev $2, hold the guest's write of A there,
# and hand over; the next blkbackd starts, and has waited or served once this returns.
held_in_kernel() {
	local eng=$1 vdev=$2
	IMG=$HANGFS_MNT/$eng.img
	truncate -s 16M "$IMG"
	bk_ctl attach guest1 "$eng:$IMG" --vdev "$vdev" --nowait >/dev/null
	hangfs_hang write
	write_A_bg "$vdev"
	hangfs_wait write held 30 || fail "$eng: the write never reached the file system"
	handover_bg "$vdev"
	start_next
	decided() {
		grep -q "waiting for the previous blkbackd, pid $OLD\|serving /local/domain" "$BK_LOG"
	}
	wait_for 30 decided || fail "$eng: the next blkbackd neither waits nor serves: $(cat "$BK_LOG")"
}

# file: the write is held in a thread of the old daemon, which therefore stays (its main
# thread exited, the other in the kernel) with its pidfile locked: the successor waits
# for it, and only then takes over, running the write again; the newer write stays.
held_in_kernel file xvdc
! grep -q "serving /local/domain" "$BK_LOG" ||
	fail "file: the next blkbackd serves while the old one (pid $OLD) still has a write in the" \
		"kernel: $(grep -v debug "$BK_LOG" | tail -n 5)"
kill -0 "$WRITER" 2>/dev/null || fail "file: the held write was answered: $(cat "$WRITER_LOG")"
echo "file: $(grep -o "waiting for the previous blkbackd.*" "$BK_LOG")"
# blkbackctl handover waits too, and after a second says what for.
wait_for 30 grep -q "waiting for blkbackd (pid $OLD) to exit: I/O of d$gid xvdc is still in storage" \
	"$HO_OUT" || fail "file: handover did not say what it waits for: $(cat "$HO_OUT")"
kill -0 "$HO_PID" 2>/dev/null || fail "file: handover returned with the old blkbackd's write held"
! grep -q "the previous blkbackd has exited" "$BK_LOG" ||
	fail "file: the next blkbackd went on with the old one's write held in the kernel"
hangfs_release write
old_gone
wait_for 30 bk_serving || fail "file: the next blkbackd did not start: $(cat "$BK_LOG")"
# Released, the write lands and its thread leaves the kernel; the old daemon's ring thread
# may answer it before the process has gone (then nothing is left to run again).
grep -q "d$gid xvdc: took over the ring: \(1 request\|0 requests\) to run again" "$BK_LOG" ||
	fail "file: the next blkbackd did not take over the ring: $(grep "d$gid" "$BK_LOG")"
newer_stays file xvdc "$IMG"
bk_ctl detach guest1 xvdc >/dev/null

# uring: io_uring runs the write in the kernel with no thread of the old daemon in it, so
# that process exits, but the write keeps its open file, and with it the image's lock:
# the successor starts and must not serve the disk: it closes it. Nobody can attach the
# image until the old write has landed; then the guest's newer write stays.
held_in_kernel uring xvdd
gave_up() { grep -q "d$gid xvdd: \(took over from\|was connected by an earlier blkbackd\)" "$BK_LOG"; }
wait_for 30 gave_up || fail "uring: the next blkbackd neither served xvdd nor said why not: $(cat "$BK_LOG")"
! grep -q "d$gid xvdd: took over from" "$BK_LOG" ||
	fail "uring: the next blkbackd serves xvdd while the old one's write is still in the kernel" \
		"$(grep -v debug "$BK_LOG" | tail -n 5)"
grep -q "d$gid xvdd: was connected by an earlier blkbackd, which may still have I/O in flight" \
	"$BK_LOG" || fail "uring: the next blkbackd did not say why it does not serve xvdd: $(cat "$BK_LOG")"
echo "uring: $(grep -o "was connected by an earlier blkbackd, which may still.*" "$BK_LOG")"
old_gone
! wait "$WRITER" || fail "uring: the held write was answered, by a daemon that cannot have run it"
at_1M "$IMG" | cmp -s - "$A" && fail "uring: the held write landed before its release"
expect_fail bk_ctl attach guest1 "uring:$IMG" --vdev xvde --timeout 20
expect_out "locked, by no running process"
echo "uring: refused while the old write is held: $(tail -n 1 <<<"$OUT")"
hangfs_release write
landed() { at_1M "$IMG" | cmp -s - "$A"; }
wait_for 30 landed || fail "uring: the old daemon's write did not land once released"
bk_ctl detach guest1 xvdd --force >/dev/null
bk_ctl attach guest1 "uring:$IMG" --vdev xvdd --nowait >/dev/null ||
	fail "uring: the image cannot be attached once the old write has landed"
newer_stays_after_A() { fe guest1 write xvdd 1M <"$B" >/dev/null && fe guest1 read xvdd 1M 64K | cmp -s - "$B" &&
	at_1M "$IMG" | cmp -s - "$B"; }
newer_stays_after_A || fail "uring: the guest's newer write does not stay"
echo "uring: once the old write had landed, the disk was attached again and the newer write stays"
bk_ctl detach guest1 xvdd >/dev/null
