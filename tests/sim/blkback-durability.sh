#!/usr/bin/env bash
# Durability: once blkbackd has answered a guest's flush, killing it (SIGKILL) loses none of
# the data written before the flush. For file and uring disks, buffered and direct, a guest
# writes 64 MiB of random bytes in 1 MiB requests, 64 in flight at once, and puts a flush on
# the ring right behind them without waiting for their answers ('blkfront write --flush',
# which prints "flushed" the moment the flush is answered). On that line blkbackd is killed
# at once, and the backing file, re-read directly, must hold every byte.
#
# What this proves: blkbackd answers a flush only after every write before it on the ring
# has reached the file, none left in its queues, its worker threads or an io_uring not yet
# submitted. The page cache outlives a killed process, so the test cannot tell whether the
# flush also reached the disk (fdatasync): only a power cut could.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires cmp truncate head

LEN=64M LEN_BYTES=$((64 << 20)) OFF=1M OFF_BYTES=$((1 << 20))
# Twice each: a blkbackd that answers early loses data only when the kill beats its
# stragglers, so two tries catch it more often than one.
SPECS=(file uring "file,direct" "uring,direct" file uring "file,direct" "uring,direct")

sim_start
head -c "$LEN_BYTES" /dev/urandom >"$XENSIM_DIR/pattern" || fail "cannot make the pattern"

# Kill blkbackd with SIGKILL now; the next bk_start is a new daemon.
bk_kill() {
	kill -KILL "$BK_PID" 2>/dev/null
	{ wait "$BK_PID"; } 2>/dev/null
	BK_PID=
}

n=0
for spec in "${SPECS[@]}"; do
	n=$((n + 1))
	guest=guest$n img=$XENSIM_DIR/disk$n.img engine=${spec%%,*}
	xensim create "$guest" >/dev/null || fail "cannot create $guest"
	# A new daemon also removes the disk of the guest destroyed in the round before.
	bk_start
	truncate -s 128M "$img" || fail "cannot create $img"
	bk_ctl attach "$guest" "$engine:$img${spec#"$engine"}" --vdev xvdb --nowait >/dev/null ||
		fail "$spec: attach failed"
	# (Not through fe_bg: the line must be read the moment it is written.)
	exec {out}< <(exec "$BUILD/xensim" run "$guest" -- "$BUILD/blkfront" write xvdb "$OFF" \
		"$LEN" --flush --slots 64 --indirect-segs 256 <"$XENSIM_DIR/pattern" \
		2>"$XENSIM_DIR/front$n.err")
	front=$!
	line=
	read -r -t 60 line <&"$out"
	[[ $line == "flushed $LEN_BYTES bytes at $OFF_BYTES" ]] && bk_kill
	kill -KILL "$front" 2>/dev/null
	exec {out}<&-
	[ -z "$BK_PID" ] || { cat "$XENSIM_DIR/front$n.err"; tail -n 20 "$BK_LOG"
		fail "$spec: blkfront never said the flush was answered (said '$line')"; }
	cmp -n "$LEN_BYTES" -i "$OFF_BYTES:0" "$img" "$XENSIM_DIR/pattern" ||
		fail "$spec: blkbackd answered the flush, was killed, and the file lacks data" \
			"written before the flush"
	echo "$spec: $LEN written, flushed, blkbackd killed on the answer: every byte is in the file"
	xensim destroy "$guest" || fail "cannot destroy $guest"
done

# A last daemon cleans up after the killed ones, and exits cleanly (bk_stop at exit).
bk_start
gone() { [ -z "$(bk_ctl list | tail -n +2)" ]; }
wait_for 10 gone || fail "the destroyed guests' disks are still listed: $(bk_ctl list)"
echo "durability: ${#SPECS[@]} kills after a flush, no flushed byte lost"
