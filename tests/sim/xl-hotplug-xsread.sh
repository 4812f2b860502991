#!/usr/bin/env bash
# A read of an xl disk's nodes that fails (xenstore busy: EIO, not ENOENT) is tried again,
# never taken for an absent node, also when the rest of the nodes read well:
#  - script: taken for absent, the disk would not be a toolstack's, get no blkbackd-status,
#    and the hotplug script's add would wait in vain and fail the disk;
#  - mode: taken for absent, an access=ro disk would be served writable.
# `xensim xs-fault` makes one read of the node fail with EIO.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-xl.sh"
requires python3

bk_sim guest1
xl_init guest1 vbd3
img=$XENSIM_DIR/vm1.img
truncate -s 4M "$img"
for node in script mode; do
	xensim xs-fault "$BE/$node" EIO 1 || fail "cannot set the fault"
	OUT=$(BLKBACKD_HOTPLUG_TIMEOUT=5 libxl attach "$DOM" 51728 "file:$img" --mode r \
		--script "$SCRIPT" 2>&1) || fail "a failed read of $node failed the attach: $OUT"
	grep -q "xs-fault: dom0 read $BE/$node -> EIO (0 left)" "$SIM_LOG" ||
		fail "blkbackd never read $node"
	ro=$(bk_stat guest1 xvdb readonly) || fail "no disk in blkbackd after a failed read of $node"
	[ "$ro" = True ] || fail "a failed read of $node served the access=ro disk writable"
	OUT=$(libxl detach "$DOM" 51728 --script "$SCRIPT" 2>&1) || fail "detach failed: $OUT"
	xl_nothing_left "after a failed read of $node"
done
echo "ok: failed reads of an xl disk's script and mode nodes were tried again"
