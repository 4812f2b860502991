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
# blkbackd --kind vbd refuses to start beside a loaded xen-blkback: let it look at an empty
# tree, not this machine's (tests/sim/blkbackd-kernel-backend.sh tests that check).
export BLKBACKD_SYSROOT=$XENSIM_DIR/root
mkdir -p "$BLKBACKD_SYSROOT"
BK_KIND=vbd
bk_start
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

# A plain phy line ('phy:/path,xvdb,w'): libxl writes the path alone and runs Xen's block
# script, which writes hotplug-status connected and exits 0 whatever the backend did. This
# stand-in does the same. blkbackd serves the path as a file: disk; a missing one goes
# Closed once the script has ended, so the guest is not left waiting at InitWait.
block=$XENSIM_DIR/block
cat >"$block" <<EOF
#!/bin/sh
[ "\$1" = add ] || exit 0
exec python3 "$REPO/tests/sim/xs-raw.py" write "/local/domain/0/\$XENBUS_PATH/hotplug-status" connected
EOF
chmod +x "$block"
OUT=$(libxl attach "$dom" 51728 "$img" --kind vbd --script "$block" 2>&1) ||
	fail "attach of the phy path $img failed: $OUT"
[ "$(xl_node "$be/params")" = "$img" ] || fail "params is not the path alone"
fe guest1 verify xvdb --seed 6 --iodepth 8 >/dev/null || fail "verify of the phy path failed"
OUT=$(libxl detach "$dom" 51728 --kind vbd --script "$block" 2>&1) || fail "detach failed: $OUT"
nothing_left "after the phy path's detach"
OUT=$(libxl attach "$dom" 51728 "$XENSIM_DIR/missing.img" --kind vbd --script "$block" 2>&1) ||
	fail "libxl's add of a missing phy path failed, but the block script exited 0: $OUT"
closed() { [ "$(xl_node "$be/state")" = 6 ]; }
wait_for 10 closed || fail "a phy path that cannot open stays in state $(xl_node "$be/state")"
xl_node "$be/error" | grep -q "cannot open $XENSIM_DIR/missing.img" ||
	fail "no reason in the error node: $(xl_node "$be/error")"
OUT=$(libxl detach "$dom" 51728 --kind vbd --script "$block" 2>&1) || fail "detach failed: $OUT"
nothing_left "after the missing phy path's detach"
echo "ok: the 4.17 phy + script= route attaches, serves, fails with the reason, leaves nothing;"
echo "    a plain phy path is served as a file: disk, and one that cannot open goes Closed"
