#!/usr/bin/env bash
# Disks named in an xl domain config, Xen 4.17 flavour: libxl's phy backend with
# script=blkbackd writes kind vbd and params as given (no format prefix), type phy, and runs
# the script the same way as 4.20's tap disks (tests/sim/xl-libxl.py --kind vbd plays it).
# blkbackd serves kind vbd here (--kind vbd). A file disk attaches, serves the userspace
# blkfront's verify and detaches leaving nothing; a bad spec fails with blkbackd's reason in
# xl's "script:" line, and xl destroy's forced removal leaves nothing.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-xl.sh"
requires python3

sim_start
xensim create guest1 >/dev/null || fail "cannot create guest1"
export BLKBACKD_RUNDIR=$XENSIM_DIR/blkbackd
# blkbackd --kind vbd refuses to start beside a loaded xen-blkback: let it look at an empty
# tree, not this machine's (tests/sim/blkbackd-kernel-backend.sh tests that check).
export BLKBACKD_SYSROOT=$XENSIM_DIR/root
mkdir -p "$BLKBACKD_SYSROOT"
BK_LOG=$XENSIM_DIR/blkbackd.log
"$BUILD/xensim" run Domain-0 -- "$BUILD/blkbackd" -d xs --kind vbd >>"$BK_LOG" 2>&1 &
BK_PID=$!
cleanup_add bk_stop
serving() { kill -0 "$BK_PID" 2>/dev/null && bk_ctl --kind vbd stats >/dev/null 2>&1; }
wait_for 20 serving || { cat "$BK_LOG"; fail "blkbackd did not start"; }
xl_init guest1 vbd
dom=$DOM script=$SCRIPT be=$BE
nothing_left() { xl_nothing_left "$@"; }

img=$XENSIM_DIR/vm1.img
truncate -s 8M "$img"
OUT=$(libxl attach "$dom" 51728 "file:$img" --kind vbd --script "$script" 2>&1) ||
	fail "attach of file:$img failed: $OUT"
[ "$(xl_node "$be/type")" = phy ] ||
	fail "the 4.17 flavour did not write type phy"
fe guest1 verify xvdb --seed 5 --iodepth 8 >/dev/null || fail "verify failed"
OUT=$(libxl detach "$dom" 51728 --kind vbd --script "$script" 2>&1) || fail "detach failed: $OUT"
[[ $OUT != *"has not closed the storage"* ]] || fail "the storage stayed open: $OUT"
nothing_left "after the detach"

OUT=$(libxl attach "$dom" 51728 "file:$XENSIM_DIR/missing.img" --kind vbd --script "$script" \
	2>&1) && fail "attach of a missing file succeeded: $OUT"
expect_out "libxl: error: script: blkbackd cannot serve xvdb to domain $dom (guest1): cannot open $XENSIM_DIR/missing.img"
OUT=$(libxl detach "$dom" 51728 --kind vbd --force on --script "$script" 2>&1) ||
	fail "xl destroy's removal failed: $OUT"
nothing_left "after xl destroy's removal"
echo "ok: the 4.17 phy + script= route attaches, serves, fails with the reason, leaves nothing"
