#!/usr/bin/env bash
# Two writers on one image: blkbackd locks image files (open file description locks, a
# write lock for a read-write disk, a read lock for a read-only one), so a second attach of
# a file already in use read-write is refused, by the same daemon, by another blkbackd or
# beside another program's lock, with a message naming the holder; blkbackctl exits
# non-zero and leaves nothing in xenstore. ',shared' writers (a cluster disk) share a file
# with each other and with readers, never with a sole writer.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

bk_sim guest1 guest2
img=$XENSIM_DIR/disk.img
truncate -s 16M "$img"
listed() { bk_ctl list | awk -v d="$1" -v v="$2" '$1 == d && $3 == v' | grep -q .; }
# blkbackctl attach $1 $2 must fail, saying $3, and leave no disk $4 on guest $1.
refused() {
	expect_fail bk_ctl attach "$1" "$2" --vdev "$4" --timeout 20
	expect_out "$3"
	! listed "$1" "$4" ||
		fail "attach $2 to $1 refused, but $4 is left in xenstore: $(bk_ctl list)"
	echo "refused: $(tail -n 1 <<<"$OUT")"
}

bk_ctl attach guest1 "file:$img" --vdev xvdb --nowait
# The same daemon: another vdev, another guest, another engine, read-only beside it.
refused guest1 "file:$img" "this blkbackd" xvdc
refused guest2 "uring:$img" "this blkbackd" xvdb
refused guest2 "file:$img,ro" "in use read-write" xvdc
refused guest2 "file:$img,shared" "this blkbackd" xvdd
grep -q "is in use: this blkbackd" "$BK_LOG" || fail "blkbackd did not log the refusal"

# Another blkbackd, serving another backend kind, names the first by pid and command.
second_log=$XENSIM_DIR/second.log
"$BUILD/xensim" run Domain-0 -- "$BUILD/blkbackd" --kind vbdlock -d xs >"$second_log" 2>&1 &
second=$!
second_up() { kill -0 "$second" && bk_ctl --kind vbdlock stats >/dev/null 2>&1; }
stop_second() { kill -TERM "$second" 2>/dev/null; wait "$second"; }
cleanup_add stop_second
wait_for 20 second_up || fail "the second blkbackd did not start: $(cat "$second_log")"
expect_fail bk_ctl --kind vbdlock attach guest2 "file:$img" --vdev xvde --timeout 20
expect_out "pid $BK_PID (blkbackd)"
echo "another blkbackd: $(tail -n 1 <<<"$OUT")"
[ -z "$(bk_ctl --kind vbdlock list | tail -n +2)" ] ||
	fail "the refused disk is left in xenstore: $(bk_ctl --kind vbdlock list)"
stop_second

# Released by a detach: the file is free for the next writer.
bk_ctl detach guest1 xvdb
bk_ctl attach guest2 "uring:$img" --vdev xvdb --nowait
bk_ctl detach guest2 xvdb

# Another program's lock (here a POSIX lock, as lockf takes) is named too.
python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(600)' "$img" "$XENSIM_DIR/locked" &
holder=$!
cleanup_add "kill $holder 2>/dev/null"
wait_for 20 test -e "$XENSIM_DIR/locked" || fail "the lock holder did not start"
refused guest1 "file:$img" "pid $holder (python3)" xvdb
kill "$holder"
wait "$holder" 2>/dev/null

# A cluster disk: two ,shared writers and a reader share it; a sole writer is refused.
bk_ctl attach guest1 "file:$img,shared" --vdev xvdb --nowait
bk_ctl attach guest2 "uring:$img,shared" --vdev xvdb --nowait
bk_ctl attach guest2 "file:$img,ro" --vdev xvdc --nowait
refused guest1 "file:$img" "this blkbackd" xvdc
head -c 64K /dev/urandom >"$XENSIM_DIR/data"
fe guest1 write xvdb 1M <"$XENSIM_DIR/data" || fail "guest1 cannot write its shared disk"
fe guest2 read xvdb 1M 64K | cmp -s - "$XENSIM_DIR/data" ||
	fail "guest2 does not read what guest1 wrote to the shared file"
echo "two ,shared writers and a reader share $img; a sole writer is refused"
for d in "guest1 xvdb" "guest2 xvdb" "guest2 xvdc"; do bk_ctl detach $d >/dev/null; done
