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
#    file: disk (in a thread of the old daemon) and a uring: disk (in the kernel for its
#    io_uring, which the old daemon waits for before exiting): the successor waits until the
#    write is released and the old process has exited, then takes over; the guest's newer
#    write stays.
#  - the same uring: write held when the old daemon is killed: the process is gone, but the
#    write keeps the image's lock, so the successor does not serve the disk and nobody can
#    attach the image until the write has landed; then the guest's newer write stays.
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
		fail "the old blkbackd did not give up waiting for the held write:" \
			"$(tail -n 5 "$OLD_LOG")"
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

# The guest's write of A, held at the handover, must have succeeded once taken over.
a_done() { wait "$WRITER" || fail "$1: the write held at the handover failed: $(cat "$WRITER_LOG")"; }

# Then the guest writes B over A; the guest and the file read B.
newer_stays() {
	local what=$1 vdev=$2 img=$3
	fe guest1 write "$vdev" 1M <"$B" >/dev/null || fail "$what: the newer write failed"
	fe guest1 read "$vdev" 1M 64K | cmp -s - "$B" ||
		fail "$what: the guest does not read its newer write"
	at_1M "$img" | cmp -s - "$B" || fail "$what: the file does not hold the newer write"
	echo "$what: the newer write to the sectors of the held one stays"
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
# The take-over follows the storage open, on a thread of its own: after bk_serving.
wait_for 30 grep -q "d$gid xvdb: took over the ring: 1 request to run again" "$BK_LOG" ||
	fail "stall: the next blkbackd did not run the held write again: $(grep "d$gid" "$BK_LOG")"
wait_for 30 held xvdb || fail "stall: the write run again is not held"
bk_ctl unstall guest1 xvdb >/dev/null
a_done stall
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

# The write is held in a thread of the old daemon (file:), or in the kernel for its io_uring
# (uring:), which would run it on after the process has gone: either way the old process
# stays, its pidfile locked, and the successor waits for it, and only then takes over,
# running the write again unless the old daemon answered it once released; the guest's
# newer write stays.
for eng in file uring; do
	vdev=xvdc; [ "$eng" = uring ] && vdev=xvdd
	held_in_kernel "$eng" "$vdev"
	! grep -q "serving /local/domain" "$BK_LOG" ||
		fail "$eng: the next blkbackd serves while the old one (pid $OLD) still has a write" \
			"in the kernel: $(grep -v debug "$BK_LOG" | tail -n 5)"
	kill -0 "$WRITER" 2>/dev/null || fail "$eng: the held write was answered: $(cat "$WRITER_LOG")"
	echo "$eng: $(grep -o "waiting for the previous blkbackd.*" "$BK_LOG")"
	# blkbackctl handover waits too, and after a second says what for.
	said="waiting for blkbackd (pid $OLD) to exit: I/O of d$gid $vdev is still in storage"
	wait_for 30 grep -q "$said" "$HO_OUT" ||
		fail "$eng: handover did not say what it waits for: $(cat "$HO_OUT")"
	kill -0 "$HO_PID" 2>/dev/null ||
		fail "$eng: handover returned with the old blkbackd's write held"
	said="d$gid $vdev: waiting for its io_uring requests in flight before exiting"
	[ "$eng" = file ] || grep -q "$said" "$OLD_LOG" ||
		fail "uring: the old blkbackd did not say it waits for its io_uring:" \
			"$(tail -n 5 "$OLD_LOG")"
	! grep -q "the previous blkbackd has exited" "$BK_LOG" ||
		fail "$eng: the next blkbackd went on with the old one's write held in the kernel"
	hangfs_release write
	old_gone
	wait_for 30 bk_serving || fail "$eng: the next blkbackd did not start: $(cat "$BK_LOG")"
	# Released, the write lands; the old daemon's ring thread may answer it before the
	# process has gone (then nothing is left to run again).
	wait_for 30 grep -q "d$gid $vdev: took over the ring: \(1 request\|0 requests\) to run again" \
		"$BK_LOG" ||
		fail "$eng: the next blkbackd did not take over the ring: $(grep "d$gid" "$BK_LOG")"
	a_done "$eng"
	newer_stays "$eng" "$vdev" "$IMG"
	bk_ctl detach guest1 "$vdev" >/dev/null
done

# The fence when nothing waits: blkbackd killed (SIGKILL) while io_uring holds its write.
# The process is gone at once, but the write keeps its open file, and with it the image's
# lock: the next blkbackd must not serve the disk, and closes it. Nobody can attach the image
# until the old write has landed; then the guest's newer write stays.
IMG=$HANGFS_MNT/killed.img
truncate -s 16M "$IMG"
bk_ctl attach guest1 "uring:$IMG" --vdev xvde --nowait >/dev/null
hangfs_hang write
write_A_bg xvde
hangfs_wait write held 30 || fail "killed: the write never reached the file system"
OLD=$BK_PID OLD_LOG=$BK_LOG
kill -KILL "$OLD"
wait "$OLD" 2>/dev/null
start_next
gave_up() { grep -q "d$gid xvde: \(took over from\|was connected by an earlier blkbackd\)" "$BK_LOG"; }
wait_for 30 gave_up ||
	fail "killed: the next blkbackd neither served xvde nor said why not: $(cat "$BK_LOG")"
! grep -q "d$gid xvde: took over from" "$BK_LOG" ||
	fail "killed: the next blkbackd serves xvde while the old write is still in the kernel" \
		"$(grep -v debug "$BK_LOG" | tail -n 5)"
said="d$gid xvde: was connected by an earlier blkbackd, which may still have I/O in flight"
grep -q "$said" "$BK_LOG" ||
	fail "killed: the next blkbackd did not say why it does not serve xvde: $(cat "$BK_LOG")"
echo "killed: $(grep -o "was connected by an earlier blkbackd, which may still.*" "$BK_LOG")"
! wait "$WRITER" || fail "killed: the held write was answered, by a daemon that cannot have run it"
at_1M "$IMG" | cmp -s - "$A" && fail "killed: the held write landed before its release"
expect_fail bk_ctl attach guest1 "uring:$IMG" --vdev xvdf --timeout 20
expect_out "locked, by no running process"
echo "killed: refused while the old write is held: $(tail -n 1 <<<"$OUT")"
hangfs_release write
landed() { at_1M "$IMG" | cmp -s - "$A"; }
wait_for 30 landed || fail "killed: the old daemon's write did not land once released"
bk_ctl detach guest1 xvde --force >/dev/null
bk_ctl attach guest1 "uring:$IMG" --vdev xvde --nowait >/dev/null ||
	fail "killed: the image cannot be attached once the old write has landed"
newer_stays killed xvde "$IMG"
bk_ctl detach guest1 xvde >/dev/null
