#!/usr/bin/env bash
# 1000 attach/detach cycles leak nothing. Each cycle attaches a disk to a guest, connects
# the userspace frontend, writes, flushes and reads back a pattern with requests in flight,
# disconnects and detaches (tests/sim/attach-cycles.c, one process for many cycles). The
# disks go round mem, file and uring, buffered and direct; the frontends round persistent
# grants or not, one or two queues, indirect requests or none, rings of 1 to 16 pages.
# Every other detach leaves the closed disk's nodes for the next attach to replace in one
# transaction: blkbackd must see that the disk under that name is a new one.
# After warm-up cycles and again at the end, with nothing attached, blkbackd must hold the
# same open fds, threads and heap bytes ('blkbackctl stats --daemon') and map no grant
# page (by its own count, and by the simulated hypervisor's count of dom0's maps and
# unmaps). Then the same again, fewer cycles, with blkbackd in grant copy mode.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3 truncate

CYCLER=$BUILD/tests/sim/attach-cycles
[ -x "$CYCLER" ] || fail "$CYCLER is not built: make $CYCLER"
WARM=20		# one cycle of each disk (5) and frontend (4) pairing
CYCLES=${CYCLES:-1000}
COPY_CYCLES=${COPY_CYCLES:-60}

# Heap bytes are exact under ASan (its allocator counts live bytes). glibc's mallinfo2
# counts the chunks parked in a thread's cache as in use, so there they may differ by a
# few hundred bytes from one quiet moment to the next: allow 4 KiB, 4 bytes a cycle.
HEAP_SLACK=4096
ldd "$BUILD/blkbackd" | grep -q libasan && HEAP_SLACK=0

bk_sim guest1
dom0_xs=$(xensim env Domain-0 | sed -n "s/^export XENSTORED_PATH='\(.*\)'$/\1/p")
[ -S "$dom0_xs" ] || fail "cannot find dom0's xenstore socket (got '$dom0_xs')"
for f in file uring file-direct uring-direct; do
	truncate -s 4M "$XENSIM_DIR/$f.img" || fail "cannot create $XENSIM_DIR/$f.img"
done
SPECS=(mem:size=4M "file:$XENSIM_DIR/file.img" "uring:$XENSIM_DIR/uring.img"
	"file:$XENSIM_DIR/file-direct.img,direct" "uring:$XENSIM_DIR/uring-direct.img,direct")

# Run cycles $1 .. $1+$2-1.
cycles() {
	xensim run guest1 -- "$CYCLER" "$dom0_xs" "$1" "$2" "${SPECS[@]}" ||
		{ tail -n 20 "$BK_LOG"; fail "cycles $1 to $(($1 + $2 - 1)) did not all succeed"; }
}

# Has blkbackd let go of every disk? Its 'stats --daemon' answer goes to $JSON.
no_disks() { JSON=$(bk_ctl stats --daemon --json) && [[ $JSON == *'"disks": 0}'* ]]; }

# What blkbackd holds once it has let go of every disk, in $HELD: "fds threads heap pages".
held() {
	wait_for 10 no_disks || fail "blkbackd still has disks after every detach: $JSON"
	HELD=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1])
print(d["fds"], d["threads"], d["heap_bytes"], d["grant_pages"])' "$JSON") ||
		fail "cannot read blkbackd's answer: $JSON"
}

# Check what blkbackd holds now ($2) against what it held after warm-up ($1); $3 names it.
same_as() {
	local fds0 thr0 heap0 fds1 thr1 heap1 gp1 maps unmaps
	read -r fds0 thr0 heap0 _ <<<"$1"
	read -r fds1 thr1 heap1 gp1 <<<"$2"
	maps=$(counter Domain-0 maps) unmaps=$(counter Domain-0 unmaps)
	echo "$3: fds $fds0 -> $fds1, threads $thr0 -> $thr1, heap bytes $heap0 -> $heap1," \
		"grant pages mapped $gp1 (dom0 maps $maps, unmaps $unmaps)"
	[ "$fds1" -eq "$fds0" ] || { ls -l "/proc/$BK_PID/fd"; fail "$3: blkbackd leaked fds"; }
	[ "$thr1" -eq "$thr0" ] || fail "$3: blkbackd has $((thr1 - thr0)) threads more"
	[ "$gp1" -eq 0 ] || fail "$3: blkbackd still maps $gp1 grant pages"
	[ "$maps" -eq "$unmaps" ] || fail "$3: dom0 still maps $((maps - unmaps)) guest pages"
	[ $((heap1 - heap0)) -le "$HEAP_SLACK" ] ||
		fail "$3: blkbackd's heap grew by $((heap1 - heap0)) bytes (slack $HEAP_SLACK)"
}

SECONDS=0
cycles 0 "$WARM"
held
before=$HELD
cycles "$WARM" "$CYCLES"
held
same_as "$before" "$HELD" "$CYCLES cycles, grant mode persistent (or map)"
t1=$SECONDS

# Grant copy mode: a daemon of its own.
bk_stop
bk_start --grant-mode copy
cycles 0 "$WARM"
held
before=$HELD
cycles "$WARM" "$COPY_CYCLES"
held
same_as "$before" "$HELD" "$COPY_CYCLES cycles, grant mode copy"
# Every cycle connected, with the grants the frontend variant and the mode call for.
n_pers=$(grep -c "xvdb: backend .* -> Connected (.* persistent grants)" "$BK_LOG")
n_map=$(grep -c "xvdb: backend .* -> Connected (.* map grants)" "$BK_LOG")
n_copy=$(grep -c "xvdb: backend .* -> Connected (.* copy grants)" "$BK_LOG")
echo "connections: $n_pers on persistent grants, $n_map on map, $n_copy on copy"
if [ "$n_pers" -ne $(((WARM + CYCLES) / 2)) ] || [ "$n_map" -ne $(((WARM + CYCLES) / 2)) ] ||
	[ "$n_copy" -ne $((WARM + COPY_CYCLES)) ]; then
	fail "not every cycle connected with the grants planned"
fi
echo "$((CYCLES + COPY_CYCLES + 2 * WARM)) cycles leaked nothing (${t1}s + $((SECONDS - t1))s)"
