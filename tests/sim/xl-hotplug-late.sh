#!/usr/bin/env bash
# An xl disk whose open outlasts the hotplug script's wait: the script fails the disk
# (hotplug-status error) and blkbackd, once the open ends, must not serve it. Its look at
# hotplug-status then is a read like any other: one that fails (xenstore busy: EIO) says
# nothing and is tried again; taken for "no failure", blkbackd would serve a disk that xl
# has failed. The open is held in hangfs past BLKBACKD_HOTPLUG_TIMEOUT=2; `xensim
# xs-fault` makes blkbackd's next read of hotplug-status fail once.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-hangfs.sh"
source "$here/lib-xl.sh"
requires python3

bk_sim guest1
xl_init guest1 vbd3
dom=$DOM be=$BE
node() { xl_node "$1"; }
xl_held_image 4M
img=$IMG
OUT=$(BLKBACKD_HOTPLUG_TIMEOUT=2 libxl attach "$dom" 51728 "file:$img" --script "$SCRIPT" 2>&1) &&
	fail "the attach succeeded while the open hung: $OUT"
expect_out "its storage does not answer"
[ "$(node "$be/hotplug-status")" = error ] || fail "no hotplug-status error"
xensim xs-fault "$be/hotplug-status" EIO 1 || fail "cannot set the fault"
hangfs_release open
grep_fault() { grep -q "xs-fault: dom0 read $be/hotplug-status -> EIO (0 left)" "$SIM_LOG"; }
wait_for 20 grep_fault || fail "blkbackd never read hotplug-status after the open"
closed() { [ "$(node "$be/state")" = 6 ]; }
wait_for 20 closed || fail "the disk opened too late did not close: state $(node "$be/state")"
[ "$(node "$be/blkbackd-status")" = failed ] || fail "status $(node "$be/blkbackd-status"), not failed"
[ -z "$(libxl present "$be/sectors")" ] || fail "the disk opened too late was connected"
OUT=$(libxl detach "$dom" 51728 --script "$SCRIPT" 2>&1) || fail "detach failed: $OUT"
xl_nothing_left "after the late open"
echo "ok: a failed read of hotplug-status after a late open did not serve a disk xl failed"
