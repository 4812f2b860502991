#!/usr/bin/env bash
# Part 4 of docs/tutorial.md runs as written and prints what the doc shows: a guest served
# from a qcow2 image (qemu-img, a qemu-storage-daemon blkbackd starts) and from an RBD image
# of the single-node Ceph cluster the part makes itself. tests/sim/lib-tutorial.sh says how
# a part runs and what may differ from a reader's shell. Afterwards nothing of it may be
# left: no blkbackd, xensim, qemu-storage-daemon or Ceph daemon.
here=$(dirname "$0")
source "$here/../helpers.sh"
requires ceph-mon ceph-osd ceph rbd monmaptool
source "$here/lib-image.sh"	# requires qemu-img and qemu-storage-daemon; qsd_nothing_left
source "$here/../lib-ceph.sh"	# ceph_stop
source "$here/lib-tutorial.sh"
[ -f "$BUILD/engines/rbd.so" ] || fail "$BUILD/engines/rbd.so is not built: run make"
tutorial_setup

# The part's cluster, where it makes it: stopped by its pid files after blkbackd is (a
# failed run may leave both running).
CEPH_DIR=$work/storage/xensim/ceph
cleanup_add ceph_stop
run_doc storage "$REPO/docs/tutorial.md" storage
[ ! -S "$XENSIM_DIR/control" ] || fail "the walkthrough left xensim running"
compare_doc storage "$REPO/docs/tutorial.md" storage ||
	fail "docs/tutorial.md part 4 does not show what it prints"
qsd_nothing_left "$XENSIM_DIR/blkbackd/vbd3.images" "after the walkthrough"
stop_leftovers
ceph_stop
no_san_reports
echo "docs/tutorial.md part 4 runs and prints as shown"
