#!/usr/bin/env bash
# Image disks that cannot be served: qemu-storage-daemon missing from blkbackd's PATH, an
# image file that is not there, a file that is not a qcow2, a qcow2 whose header is
# damaged, an image another qemu process holds (qemu's image locking), the wrong format
# engine for an image, and a qed: spec (a format blkbackd does not serve). Each
# attach fails with a message naming the cause (qemu's own, where qemu found it), and leaves
# nothing: no qemu-storage-daemon, no socket or private directory, no xenstore node, no
# disk in blkbackd, which keeps serving. A qemu-storage-daemon left in the run directory by
# a killed blkbackd is stopped by the next one at start. Last, a disk whose qemu is killed
# under it: the log says so and its I/O fails; its detach leaves nothing either.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-image.sh"
requires python3

image_setup
image_make qcow2 good.qcow2 8M
image_make qcow2 damaged.qcow2 8M
# The active L1 table's offset (header bytes 40..47) past any sane end.
printf '\xff\xff\xff\xff\xff\xff\xff\xf0' |
	dd of="$IMG_DIR/damaged.qcow2" bs=1 seek=40 conv=notrunc status=none
head -c 1M /dev/urandom >"$IMG_DIR/garbage.qcow2"
image_make qcow2 held.qcow2 8M
mkdir "$IMG_DIR/bin"

sim_start
xensim create guest1 >/dev/null || fail "cannot create guest1"
IMAGES=$XENSIM_DIR/blkbackd/vbd3.images
be=/local/domain/0/backend/vbd3/1/51728

# attach SPEC WANT: the attach must fail saying WANT, and leave nothing behind.
refused() {
	expect_fail bk_ctl attach guest1 "$1" --vdev xvdb --timeout 60
	expect_out "$2"
	echo "refused $1: ${OUT#blkbackctl: }"
	qsd_nothing_left "$IMAGES" "after $1"
	if xensim run Domain-0 -- python3 "$here/xs-raw.py" read "$be" >/dev/null 2>&1; then
		fail "after $1: $be left in xenstore"
	fi
	bk_ctl stats | grep -q '^disk ' && fail "after $1: blkbackd still has a disk: $(bk_ctl stats)"
	bk_serving || fail "blkbackd stopped answering after $1"
}

# No qemu-storage-daemon in blkbackd's PATH.
BK_WRAP=(env "PATH=$IMG_DIR/bin")
bk_start
refused "qcow2:$IMG_DIR/good.qcow2" "qemu-storage-daemon is not installed (not found in PATH)"
bk_stop
BK_WRAP=()

# What a blkbackd killed with its qemu-storage-daemon held up would leave: a daemon still
# serving from a directory in KIND.images. The next blkbackd stops it and removes the
# directory before it serves (here it also frees the image for the attach below).
image_make qcow2 stale.qcow2 8M
mkdir -m 0700 "$IMAGES/qsd-stale1"
qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$IMG_DIR/stale.qcow2" \
	--blockdev driver=qcow2,node-name=d,file=f \
	--nbd-server "addr.type=unix,addr.path=$IMAGES/qsd-stale1/sock" \
	--export type=nbd,id=e,node-name=d,writable=on \
	--pidfile "$IMAGES/qsd-stale1/pid" --daemonize || fail "cannot start the stale qemu-storage-daemon"
stale=$(cat "$IMAGES/qsd-stale1/pid")
cleanup_add "kill $stale 2>/dev/null"
bk_start
grep -q "stopping qemu-storage-daemon pid $stale, which a killed blkbackd left" "$BK_LOG" ||
	fail "blkbackd did not say it stopped the stale qemu-storage-daemon"
# (Gone, or a zombie its new parent has not reaped yet.)
exited() { [ ! -e "/proc/$1" ] || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
exited "$stale" || fail "the stale qemu-storage-daemon $stale still runs"
[ ! -e "$IMAGES/qsd-stale1" ] || fail "the stale directory is left: $(ls -l "$IMAGES/qsd-stale1")"
bk_ctl attach guest1 "qcow2:$IMG_DIR/stale.qcow2" --vdev xvdb --nowait >/dev/null ||
	fail "the image the stale qemu held does not attach"
bk_ctl detach guest1 xvdb >/dev/null || fail "detach of the stale image failed"
wait_for 20 qsd_gone "$IMAGES" || fail "the stale image's qemu-storage-daemon outlived its detach"
refused "qcow2:$IMG_DIR/nosuch.qcow2" \
	"qemu-storage-daemon exited with status 1: qemu-storage-daemon: --blockdev driver=file"
expect_out "Could not open '$IMG_DIR/nosuch.qcow2': No such file or directory"
refused "qcow2:$IMG_DIR/garbage.qcow2" "Image is not in qcow2 format"
refused "qcow2:$IMG_DIR/damaged.qcow2" "Active L1 table offset invalid"
refused "vmdk:$IMG_DIR/good.qcow2" "invalid VMDK image descriptor"
# (blkbackctl knows the engines: qed is refused before any node is written. libxl's qed:
# prefix is refused by blkbackd: tests/sim/xl-hotplug.sh, tests/unit/test-config.c.)
refused "qed:$IMG_DIR/good.qcow2" "unknown storage engine 'qed'"

# Held by another qemu: its lock refuses ours, and the other qemu is left alone.
qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$IMG_DIR/held.qcow2" \
	--blockdev driver=qcow2,node-name=d,file=f --pidfile "$IMG_DIR/held.pid" --daemonize ||
	fail "cannot start the other qemu-storage-daemon"
holder=$(cat "$IMG_DIR/held.pid")
cleanup_add "kill $holder 2>/dev/null"
refused "qcow2:$IMG_DIR/held.qcow2" "Failed to get \"write\" lock"
expect_out "Is another process using the image"
kill -0 "$holder" || fail "the other qemu-storage-daemon died"

# The good image still attaches and serves.
bk_ctl attach guest1 "qcow2:$IMG_DIR/good.qcow2" --vdev xvdb --nowait >/dev/null ||
	fail "attach of the good image failed"
fe guest1 verify xvdb --seed 9 >/dev/null || fail "verify on the good image failed"
# Its qemu-storage-daemon killed under it: the disk fails (its unflushed writes may be
# lost with qemu's caches), saying so, rather than serving on as if nothing happened.
qsd=$(qsd_pids "$IMAGES")
[ -n "$qsd" ] || fail "no qemu-storage-daemon serves the good image"
kill -KILL $qsd
died() { grep -q "qemu-storage-daemon (pid $qsd) serving $IMG_DIR/good.qcow2 was killed by signal 9" "$BK_LOG"; }
wait_for 20 died || { tail -n 5 "$BK_LOG"; fail "blkbackd did not say that qemu-storage-daemon died"; }
grep "qemu-storage-daemon (pid $qsd)" "$BK_LOG"
expect_fail fe guest1 verify xvdb --seed 9 --mode read
[ "$(bk_stat guest1 xvdb err_req)" -gt 0 ] || fail "no error reached the guest after qemu died"
bk_ctl detach guest1 xvdb >/dev/null || fail "detach failed"
wait_for 20 qsd_gone "$IMAGES" || fail "the good image's qemu-storage-daemon outlived its detach"
qsd_nothing_left "$IMAGES" "after the good image"
echo "PASS qcow2-bad-input"
