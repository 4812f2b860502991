#!/usr/bin/env bash
# hangfs (tests/sim/lib-hangfs.sh) holds system calls inside the kernel, and lets them go.
#  - Through the mount, dd writes land in the backing directory and cat reads them back.
#  - With write, truncate, open, flush or fsync held, the process making that call has not
#    returned, and for write and truncate the backing file is unchanged; released, the call
#    finishes with success and its effect is in the backing file.
#  - The same for read, create and fallocate; fallocate punches holes too. A held release
#    (the last close) does not block close(2), the kernel sends it in the background.
#  - A process killed with SIGKILL in a held write stays, in state D with its fds and flock
#    lock, until the write is released (other tests rely on this).
#  - Killed, hangfs fails the held write and later calls with ENOTCONN.
#  - The teardown leaves nothing mounted.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-hangfs.sh"
requires dd truncate cmp flock

tmp=$(mktemp -d /tmp/hangfs-test.XXXXXX) || fail "mktemp failed"
cleanup_add "rm -rf '$tmp'"
back=$tmp/back
mkdir "$back"
hangfs_start "$back"
mnt=$HANGFS_MNT
head -c 64K /dev/urandom >"$tmp/data"
head -c 16K /dev/urandom >"$tmp/new"

# State letter of process $1 (from /proc/PID/stat; the name field may hold spaces).
pstate() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1; }
# Is process $1 still there (not exited, not a zombie)?
running() { local s; s=$(pstate "$1"); [ -n "$s" ] && [ "$s" != Z ]; }
# Process $1, started in the background, must exit 0 within 20 s.
exits_ok() {
	wait_for 20 eval '! running '"$1" || fail "$2 did not finish after the release"
	wait "$1" || fail "$2 failed after the release (exit $?)"
}

# Plain passthrough.
dd if="$tmp/data" of="$mnt/f" bs=16K status=none || fail "dd through hangfs failed"
cmp -s "$tmp/data" "$back/f" || fail "the data written through hangfs is not in the backing file"
cat "$mnt/f" | cmp -s "$tmp/data" - || fail "reading back through hangfs gave other data"
[ "$(stat -c %s "$mnt/f")" = 65536 ] || fail "stat through hangfs: size $(stat -c %s "$mnt/f")"
ls "$mnt" | grep -qx f || fail "ls of the mount does not show f"

# write: held before it reaches the backing file.
hangfs_hang write
dd if="$tmp/new" of="$mnt/f" bs=16K seek=1 conv=notrunc status=none &
pid=$!
hangfs_wait write held
running "$pid" || fail "dd returned while its write was held"
cmp -s "$tmp/data" "$back/f" || fail "the backing file changed while the write was held"
hangfs_release write
exits_ok "$pid" "the held dd write"
hangfs_wait write done
cmp -s -n 16384 "$tmp/new" "$back/f" 0 16384 || fail "the released write is not in the backing file"
grep -qx "done write /f 16384" "$HANGFS_EVENTS" || fail "no 'done write /f 16384' event"

# truncate (setattr size).
hangfs_hang truncate
truncate -s 1M "$mnt/f" &
pid=$!
hangfs_wait truncate held
running "$pid" || fail "truncate returned while held"
[ "$(stat -c %s "$back/f")" = 65536 ] || fail "the backing file's size changed while held"
hangfs_release truncate
exits_ok "$pid" "the held truncate"
hangfs_wait truncate done
[ "$(stat -c %s "$back/f")" = 1048576 ] || fail "the released truncate did not resize the file"

# open: a cat held in open(2).
hangfs_hang open
cat "$mnt/f" >"$tmp/out" &
pid=$!
hangfs_wait open held
running "$pid" || fail "cat returned while its open was held"
hangfs_release open
exits_ok "$pid" "the cat held in open"
hangfs_wait open done
cmp -s "$back/f" "$tmp/out" || fail "cat after the held open read other data"

# read: a cat held in read(2).
hangfs_hang read
cat "$mnt/f" >"$tmp/out" &
pid=$!
hangfs_wait read held
running "$pid" || fail "cat returned while its read was held"
hangfs_release read
exits_ok "$pid" "the cat held in read"
hangfs_wait read done
cmp -s "$back/f" "$tmp/out" || fail "cat after the held read read other data"

# create: a new file is not made while held.
hangfs_hang create
bash -c 'echo created >"$1"' _ "$mnt/new" &
pid=$!
hangfs_wait create held
running "$pid" || fail "the create returned while held"
[ -e "$back/new" ] && fail "the file was created in the backing directory while held"
hangfs_release create
exits_ok "$pid" "the held create"
hangfs_wait create done
[ "$(cat "$back/new")" = created ] || fail "the released create did not make the file"

# release (FUSE's, after the last close): close(2) does not wait for it, the kernel sends it
# in the background; it is held all the same.
hangfs_hang release
dd if="$tmp/new" of="$mnt/new" bs=16K status=none || fail "dd with release held failed"
hangfs_wait release held
hangfs_release release
hangfs_wait release done

# flush: close(2) held, after the write has landed.
hangfs_hang flush
dd if="$tmp/data" of="$mnt/g" bs=16K status=none &
pid=$!
hangfs_wait flush held
running "$pid" || fail "dd returned while its close was held"
hangfs_release flush
exits_ok "$pid" "the dd held in close"
hangfs_wait flush done
cmp -s "$tmp/data" "$back/g" || fail "the data of the dd held in close is wrong"

# fsync.
hangfs_hang fsync
dd if="$tmp/new" of="$mnt/h" bs=16K conv=fsync status=none &
pid=$!
hangfs_wait fsync held
running "$pid" || fail "dd returned while its fsync was held"
hangfs_release fsync
exits_ok "$pid" "the dd held in fsync"
hangfs_wait fsync done
grep -qx "done fsync /h 0" "$HANGFS_EVENTS" || fail "no 'done fsync /h 0' event"
cmp -s "$tmp/new" "$back/h" || fail "the data of the fsynced dd is wrong"

# fallocate: plain, held, then a punched hole.
if command -v fallocate >/dev/null; then
	hangfs_hang fallocate
	fallocate -l 2M "$mnt/h" &
	pid=$!
	hangfs_wait fallocate held
	running "$pid" || fail "fallocate returned while held"
	[ "$(stat -c %s "$back/h")" = 16384 ] || fail "the backing file grew while held"
	hangfs_release fallocate
	exits_ok "$pid" "the held fallocate"
	hangfs_wait fallocate done
	[ "$(stat -c %s "$back/h")" = 2097152 ] || fail "the released fallocate did not grow h"
	fallocate -p -o 0 -l 4096 "$mnt/h" || fail "punching a hole through hangfs failed"
	[ "$(head -c 4096 "$back/h" | tr -d '\0' | wc -c)" = 0 ] || fail "the hole is not zeros"
	[ "$(stat -c %s "$back/h")" = 2097152 ] || fail "punching a hole changed the size"
fi

# A process killed in a held write stays in state D, its fds open and its lock held, until
# the write is released. (flock 9 locks the open file that dd inherits and keeps.)
: >"$back/lock"
hangfs_hang write
bash -c 'exec 9>"$1"; flock 9; exec dd if="$2" of="$3" bs=16K conv=notrunc status=none' _ \
	"$back/lock" "$tmp/new" "$mnt/f" &
pid=$!
hangfs_wait write held
flock -n "$back/lock" true && fail "the writer's lock is not held"
kill -KILL "$pid"
wait_for 10 eval '[ "$(pstate '"$pid"')" = D ]' ||
	fail "the SIGKILLed writer is not in state D (state $(pstate "$pid"))"
[ -e "/proc/$pid/fd/9" ] || fail "the SIGKILLed writer's fds are gone while its write is held"
flock -n "$back/lock" true && fail "the SIGKILLed writer's lock was let go while its write is held"
hangfs_release write
wait_for 10 eval '! running '"$pid" || fail "the SIGKILLed writer stayed after the release"
wait "$pid"
rc=$?
[ "$rc" = 137 ] || fail "the SIGKILLed writer exited with $rc, not 137"
flock -n "$back/lock" true || fail "the lock is still held after the writer went"
hangfs_wait write done

# Storage that vanishes: killing hangfs fails the held write and later calls (ENOTCONN).
hangfs_hang write
dd if="$tmp/new" of="$mnt/f" bs=16K conv=notrunc status=none 2>"$tmp/dd.err" &
pid=$!
hangfs_wait write held
hangfs_kill
wait_for 10 eval '! running '"$pid" || fail "the held write stayed after hangfs was killed"
wait "$pid" && fail "the held write succeeded though hangfs was killed"
grep -q "not connected" "$tmp/dd.err" || fail "dd did not say ENOTCONN: $(cat "$tmp/dd.err")"
expect_fail stat "$mnt/f"
expect_out "not connected"

# The teardown unmounts.
hangfs_stop
_hangfs_mounted "$mnt" && fail "$mnt is still mounted after hangfs_stop"
grep -q "^hangfs " /proc/mounts && grep "^hangfs " /proc/mounts | grep -q "$mnt" &&
	fail "a hangfs mount of $mnt is left in /proc/mounts"
echo "hangfs: all checks passed"
