# Sourced by simulator tests that need storage hung inside a system call, after
# tests/helpers.sh and tests/sim/lib.sh. One hangfs at a time per test.
#   hangfs_start DIR        mount hangfs (tests/sim/hangfs.c) over backing directory DIR at a
#                           fresh mountpoint, exported as HANGFS_MNT; unmounted at exit. Skips
#                           (77) only when the machine has no usable FUSE.
#   hangfs_hang OP          hold every OP request from now on (open, create, read, write, fsync,
#                           flush, release, truncate, fallocate); returns once hangfs applies it
#   hangfs_release OP|all   stop holding OP and let the held OP requests go on, oldest first
#   hangfs_wait OP WHAT [SECONDS]
#                           wait (default 20 s) for one more "WHAT OP /name ..." line in the
#                           events (WHAT is held or done) than the earlier satisfied waits for
#                           that pair counted: successive waits count successive events. The
#                           count lives in this shell: do not call it from a $(...) subshell.
#   hangfs_stop             release all, unmount, stop hangfs and check its log (idempotent).
#                           At exit, held requests are released before every other cleanup
#                           (a daemon cannot exit while its write is held) and hangfs_stop
#                           runs after every other cleanup (after the daemon has let go of
#                           the files on the mount)
#   hangfs_kill             SIGKILL hangfs, as storage that vanishes: every request in flight
#                           or held fails with ENOTCONN, and so does every later call on the
#                           mount, until hangfs_stop unmounts it
#   HANGFS_EVENTS           the events file: "ready", "held OP /name", "done OP /name RESULT"
#                           (RESULT 0, a byte count for read/write, or -errno), "cmd LINE"
#   HANGFS_LOG              hangfs's stderr
#
# What the kernel does with a held request (seen on Linux 6.18 with libfuse 3.14; FUSE's
# request_wait_answer): the caller first sleeps interruptibly (state S, wchan
# request_wait_answer). A signal makes the kernel send FUSE an INTERRUPT, which hangfs ignores;
# once the signal is fatal (SIGKILL, or any signal whose default action kills), the request
# has already been read by hangfs, so the thread waits on uninterruptibly (state D) until
# hangfs answers. A process killed with SIGKILL while one of its threads is in a held write
# therefore stays, in state D, with its fds open and its flock locks held, until the write is
# released; the same when another thread calls exit: the leader becomes a zombie, the held
# thread stays in D with the shared fd table, and the locks stay held. Only after release does
# the write finish (on the backing file) and the process go.
# Not so for io_uring (and other asynchronous I/O): a write submitted through io_uring is sent
# to FUSE as a background request and no thread of the process waits for it. Killed with
# SIGKILL, the process exits at once (its pid is gone, its other fds and their locks are let
# go), while the ring's exit work in a kworker keeps the written file open: that open file
# description, with any flock or OFD lock on it, stays until the write is released, and the
# write then lands on the backing file after the process has gone. Seen with blkbackd: a
# file: disk's SIGKILLed daemon stays (leader a zombie, the I/O thread in D) until the
# release; a uring: disk's is gone within the second while its write is still held.
# A held "release" (FUSE's release after the last close) does not block close(2): the kernel
# sends it in the background. Hold "flush" to block close(2).
#
# What ends a held request besides a release: killing hangfs (its /dev/fuse closes, the
# kernel aborts the connection: the caller gets ENOTCONN) or writing 1 to
# /sys/fs/fuse/connections/N/abort, N the mount's minor device number (the caller gets
# ECONNABORTED; hangfs logs "done OP /name -107" and exits; fusectl must be mounted there:
# mount -t fusectl none /sys/fs/fuse/connections). Either way the dead mount stays until
# unmounted. An unmount does not: umount fails with EBUSY while a file is open, and a lazy
# unmount leaves the held request waiting. hangfs_stop therefore releases all first, then
# unmounts, sends SIGTERM, and kills hangfs if it has not gone within 5 s (files still open).
HANGFS_BIN=$BUILD/tests/sim/hangfs
HANGFS_PID=
declare -gA _HANGFS_SEEN=()

# Mount hangfs over backing directory $1 at a fresh mountpoint (HANGFS_MNT).
hangfs_start() {
	local back=$1 rc log
	[ -n "$HANGFS_PID" ] && fail "hangfs_start: hangfs already runs (one per test)"
	[ -d "$back" ] || fail "hangfs_start: backing directory $back does not exist"
	[ -x "$HANGFS_BIN" ] || fail "$HANGFS_BIN is not built: run make $HANGFS_BIN"
	if [ ! -c /dev/fuse ]; then
		echo "skipped: /dev/fuse is missing (no FUSE on this machine)"
		exit 77
	fi
	HANGFS_STATE=$(mktemp -d /tmp/hangfs-state.XXXXXX) || fail "mktemp failed"
	HANGFS_MNT=$(mktemp -d /tmp/hangfs-mnt.XXXXXX) || fail "mktemp failed"
	export HANGFS_MNT
	HANGFS_EVENTS=$HANGFS_STATE/events HANGFS_LOG=$HANGFS_STATE/hangfs.log
	HANGFS_CONTROL=$HANGFS_STATE/control
	_HANGFS_SEEN=()
	: >"$HANGFS_EVENTS"
	"$HANGFS_BIN" --backing "$back" --control "$HANGFS_CONTROL" --events "$HANGFS_EVENTS" \
		"$HANGFS_MNT" >>"$HANGFS_LOG" 2>&1 &
	HANGFS_PID=$!
	# Held requests go first at exit, before any other cleanup (a daemon cannot stop while
	# one of its writes is held); the unmount goes last, after whatever uses the mount.
	_cleanups+=(hangfs_stop)
	trap '_hangfs_rc=$?; _hangfs_release_quietly; (exit $_hangfs_rc); _run_cleanups' EXIT
	wait_for 20 _hangfs_ready_or_gone
	if ! grep -qx ready "$HANGFS_EVENTS"; then
		if _hangfs_alive; then
			cat "$HANGFS_LOG"
			fail "hangfs did not mount $HANGFS_MNT within 20 s"
		fi
		rc=0
		wait "$HANGFS_PID" || rc=$?
		HANGFS_PID=
		log=$(cat "$HANGFS_LOG")
		rmdir "$HANGFS_MNT"
		rm -rf "$HANGFS_STATE"
		if [ "$rc" -eq 3 ]; then
			echo "skipped: the kernel refused the FUSE mount: $log" | tr '\n' ' '
			echo
			exit 77
		fi
		echo "$log"
		fail "hangfs exited with status $rc before mounting $HANGFS_MNT"
	fi
}

_hangfs_ready_or_gone() {
	grep -qx ready "$HANGFS_EVENTS" || ! _hangfs_alive
}

# Send control line $1 and wait until hangfs has applied it ("cmd LINE" in the events).
_hangfs_cmd() {
	local n
	[ -n "$HANGFS_PID" ] || fail "hangfs is not running (hangfs_start first)"
	n=$(grep -c '^\(cmd\|bad\) ' "$HANGFS_EVENTS")
	# Opened for reading and writing: never blocks, even with no hangfs reading.
	printf '%s\n' "$1" 1<>"$HANGFS_CONTROL" || fail "cannot write to $HANGFS_CONTROL"
	wait_for 10 _hangfs_count_above '^\(cmd\|bad\) ' "$n" ||
		{ cat "$HANGFS_LOG"; fail "hangfs did not apply '$1' within 10 s"; }
	! grep -qx "bad $1" "$HANGFS_EVENTS" ||
		fail "hangfs refused '$1': $(tail -n 1 "$HANGFS_LOG")"
}

# Are there more than $2 events lines matching regex $1 (and if not, is hangfs alive)?
_hangfs_count_above() {
	[ "$(grep -c "$1" "$HANGFS_EVENTS")" -gt "$2" ] && return 0
	_hangfs_alive || { cat "$HANGFS_LOG"; fail "hangfs has exited"; }
	return 1
}

hangfs_hang() { _hangfs_cmd "hang $1"; }
hangfs_release() { _hangfs_cmd "release $1"; }

# Wait until one more "$2 $1 ..." event has appeared than the earlier waits saw.
hangfs_wait() {
	local op=$1 what=$2 secs=${3:-20} key="$2 $1" seen
	seen=${_HANGFS_SEEN[$key]:-0}
	wait_for "$secs" _hangfs_count_above "^$what $op " "$seen" ||
		fail "no new '$what $op' event within $secs s (seen $seen before); events:$(
			tail -n 8 "$HANGFS_EVENTS" | sed 's/^/ | /' | tr '\n' ' ')"
	_HANGFS_SEEN[$key]=$((seen + 1))
}

# Kill hangfs: the kernel fails whatever is held or comes later with ENOTCONN.
hangfs_kill() {
	[ -n "$HANGFS_PID" ] || fail "hangfs is not running (hangfs_start first)"
	kill -KILL "$HANGFS_PID" 2>/dev/null
	wait "$HANGFS_PID"
	_HANGFS_KILLED=1
}

# At exit: let everything held go on, saying so, without waiting for hangfs to apply it.
_hangfs_release_quietly() {
	_hangfs_alive || return 0
	grep -q '^held ' "$HANGFS_EVENTS" 2>/dev/null || return 0
	printf 'release all\n' 1<>"$HANGFS_CONTROL" 2>/dev/null
	wait_for 5 grep -qx 'cmd release all' "$HANGFS_EVENTS"
	return 0
}

# Is $1 a mountpoint in /proc/mounts?
_hangfs_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

# Release everything, unmount, stop hangfs and check its log. Idempotent.
hangfs_stop() {
	local rc=0 killed=${_HANGFS_KILLED:-}
	[ -n "$HANGFS_PID" ] || return 0
	if [ -z "$killed" ] && _hangfs_alive; then
		printf 'release all\n' 1<>"$HANGFS_CONTROL" 2>/dev/null
		fusermount3 -u "$HANGFS_MNT" 2>/dev/null || umount -l "$HANGFS_MNT" 2>/dev/null
		kill -TERM "$HANGFS_PID" 2>/dev/null
		if ! wait_for 5 _hangfs_gone; then
			echo "warning: hangfs did not exit within 5 s of SIGTERM (files still" \
				"open on $HANGFS_MNT?): killing it" >&2
			kill -KILL "$HANGFS_PID" 2>/dev/null
			killed=1
		fi
	fi
	wait "$HANGFS_PID" 2>/dev/null || rc=$?
	HANGFS_PID= _HANGFS_KILLED=
	# After a kill or a connection abort the dead mount stays until unmounted.
	if _hangfs_mounted "$HANGFS_MNT"; then
		fusermount3 -u "$HANGFS_MNT" 2>/dev/null || umount -l "$HANGFS_MNT" 2>/dev/null
	fi
	_hangfs_mounted "$HANGFS_MNT" && fail "hangfs left $HANGFS_MNT mounted"
	rmdir "$HANGFS_MNT" 2>/dev/null
	no_sanitizer_reports "$HANGFS_LOG" hangfs
	if [ "$rc" -ne 0 ] && [ -z "$killed" ]; then
		tail -n 20 "$HANGFS_LOG"
		fail "hangfs exited with status $rc"
	fi
	[ -n "${HANGFS_KEEP:-}" ] || rm -rf "$HANGFS_STATE"
}

# Is hangfs running (not exited, not a zombie)?
_hangfs_alive() {
	local st
	[ -n "$HANGFS_PID" ] && [ -z "${_HANGFS_KILLED:-}" ] || return 1
	st=$(ps -o stat= -p "$HANGFS_PID" 2>/dev/null)
	[ -n "$st" ] && [[ $st != Z* ]]
}

_hangfs_gone() { ! _hangfs_alive; }
