#!/usr/bin/env bash
# An xl disk whose storage is slow to open. libxl waits only 10 s for InitWait before it
# fails the disk, and runs the hotplug script only after it: so blkbackd goes InitWait
# without waiting for the open, and the script's add waits for it. Here the open(2) of a
# file disk is held in the kernel by hangfs (tests/sim/lib-hangfs.sh) until the checks are
# done: libxl's stand-in (tests/sim/xl-libxl.py) sees InitWait and runs the script while
# the open is held; the guest's frontend, started meanwhile, sets up its ring but sees no
# Connected and no disk size until the open has ended. Let go, the script exits 0, the
# guest's verify passes, and the detach leaves nothing. Then an open held past the script's
# wait: the script fails the disk, and blkbackd closes it once the open ends.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-hangfs.sh"
source "$here/lib-xl.sh"
requires python3

bk_sim guest1
xl_init guest1 vbd3
dom=$DOM script=$SCRIPT be=$BE fe=$FE
node() { xl_node "$1"; }
xl_held_image 16M
img=$IMG
xl_attach_held "$XENSIM_DIR/attach.log"
att=$ATT
fe_bg "$XENSIM_DIR/verify.log" guest1 verify xvdb --seed 4 --iodepth 8 --backend-timeout 120
fe_initialised() { [ "$(node "$fe/state")" = 3 ]; }
wait_for 20 fe_initialised || fail "the frontend did not set up its ring: $(cat "$XENSIM_DIR/verify.log")"
# The open still hangs: no Connected, nothing of the disk, and the script still waits.
[ "$(node "$be/state")" = 2 ] || fail "backend state $(node "$be/state") before the open ended"
[ -z "$(libxl present "$be/sectors" "$be/info" "$be/sector-size" "$be/feature-flush-cache")" ] ||
	fail "the disk's nodes were written before its storage was open"
[ "$(node "$be/blkbackd-status")" = opening ] || fail "status is not 'opening'"
kill -0 "$att" 2>/dev/null || fail "the script did not wait for the open: $(cat "$XENSIM_DIR/attach.log")"
hangfs_release open
wait "$att" || fail "the attach failed once the open was let go: $(cat "$XENSIM_DIR/attach.log")"
wait "$FE_PID" || fail "verify failed: $(tail -n 3 "$XENSIM_DIR/verify.log")"
OUT=$(libxl detach "$dom" 51728 --script "$script" 2>&1) || fail "detach failed: $OUT"
[[ $OUT != *"has not closed the storage"* ]] || fail "the storage stayed open: $OUT"
xl_nothing_left "after the detach"

# An open that outlasts the script's wait (BLKBACKD_HOTPLUG_TIMEOUT, 2 s here; 30 by
# default): the script fails the disk, saying its storage does not answer; once the open
# ends, blkbackd does not serve it but closes it, and the removal leaves nothing.
hangfs_hang open
OUT=$(BLKBACKD_HOTPLUG_TIMEOUT=2 libxl attach "$dom" 51728 "file:$img" --script "$script" 2>&1) &&
	fail "the attach succeeded while the open hung: $OUT"
expect_out "libxl: error: script: blkbackd cannot serve xvdb to domain $dom (guest1): it has not opened file:$img in 2 s: its storage does not answer"
[ "$(node "$be/hotplug-status")" = error ] || fail "no hotplug-status error"
hangfs_release open
closed() { [ "$(node "$be/state")" = 6 ]; }
wait_for 20 closed || fail "the disk opened too late did not close: state $(node "$be/state")"
[ "$(node "$be/blkbackd-status")" = failed ] || fail "status $(node "$be/blkbackd-status"), not failed"
[[ $(node "$be/error") == *"after the hotplug script had given up"* ]] ||
	fail "error node: $(node "$be/error")"
[ -z "$(libxl present "$be/sectors")" ] || fail "the disk opened too late was connected"
OUT=$(libxl detach "$dom" 51728 --script "$script" 2>&1) || fail "detach failed: $OUT"
xl_nothing_left "after the late open"
echo "ok: InitWait came while the open hung; Connected only after it; the disk served; an open"
echo "    that outlasted the script's wait failed the disk, and the disk was not served after it"
