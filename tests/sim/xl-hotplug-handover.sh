#!/usr/bin/env bash
# A handover (systemctl restart, a package upgrade) while an xl disk's storage is opening.
# The leaving daemon does not serve the disk, whatever its open gives: it must not tell
# the hotplug script "open" (which makes xl count the disk attached on the word of a
# daemon that is gone) but leave the verdict to its successor, which opens the storage
# again. Here the open is held in hangfs over the handover and let go while the old
# daemon waits for it: the old one exits leaving blkbackd-status "opening", the script
# still waits, and it exits 0 once the next blkbackd has opened the disk.
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
xl_held_image 4M
img=$IMG
xl_attach_held "$XENSIM_DIR/xl-stderr.attach"
att=$ATT

old=$BK_PID old_log=$BK_LOG
bk_ctl handover >"$XENSIM_DIR/handover.out" 2>&1 &
ho=$!
wait_for 20 grep -q "leaving connected disks to a successor" "$old_log" ||
	fail "the old blkbackd did not start leaving: $(tail -n 5 "$old_log")"
hangfs_release open
rc=0
wait "$old" || rc=$?
BK_PID=
[ "$rc" = 0 ] || fail "the old blkbackd exited $rc: $(tail -n 5 "$old_log")"
no_sanitizer_reports "$old_log" "the old blkbackd"
wait "$ho" || fail "blkbackctl handover failed: $(cat "$XENSIM_DIR/handover.out")"
[ "$(xl_node "$be/blkbackd-status")" = opening ] ||
	fail "the leaving blkbackd told the script '$(xl_node "$be/blkbackd-status")'"
kill -0 "$att" 2>/dev/null ||
	fail "the script ended with no blkbackd serving: $(cat "$XENSIM_DIR/xl-stderr.attach")"

bk_start
wait "$att" || fail "the attach failed after the handover: $(cat "$XENSIM_DIR/xl-stderr.attach")"
[ "$(xl_node "$be/blkbackd-status")" = open ] || fail "the next blkbackd did not say open"
fe guest1 verify xvdb --seed 5 --iodepth 4 >/dev/null || fail "verify after the handover failed"
OUT=$(libxl detach "$dom" 51728 --script "$SCRIPT" 2>&1) || fail "detach failed: $OUT"
xl_nothing_left "after the detach"
echo "ok: an open that ended during a handover left the verdict to the next blkbackd"
