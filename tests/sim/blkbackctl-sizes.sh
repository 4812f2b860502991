#!/usr/bin/env bash
# attach and resize print a disk's size exactly, in the unit that says what it is: a disk
# under 1 MiB, or not whole MiB, is shown in KiB or bytes, never as "0 MiB" or rounded down.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"

bk_sim guest1
dom=$(xensim list | awk '$2 == "guest1" { print $1 }')

# A 512 KiB ramdisk, attached until the guest connects: the size attach prints.
bk_ctl attach guest1 mem:size=512K --vdev xvdb >"$XENSIM_DIR/attach.log" 2>&1 &
ATT=$!
xensim run Domain-0 -- python3 "$here/xs-raw.py" wait "/local/domain/$dom/device/vbd/51728/state" ||
	fail "attach wrote no frontend nodes: $(cat "$XENSIM_DIR/attach.log")"
fe_bg "$XENSIM_DIR/hold.log" guest1 bench xvdb --rw read --size 64k --runtime 120
wait "$ATT" || fail "attach of 512K failed: $(cat "$XENSIM_DIR/attach.log")"
OUT=$(cat "$XENSIM_DIR/attach.log")
expect_out "as xvdb: 512 KiB"
kill "$FE_PID"
wait "$FE_PID" 2>/dev/null

# A disk blkbackd has opened (--nowait) resized to sizes under and over 1 MiB.
bk_ctl attach guest1 mem:size=1M --vdev xvdc --nowait >/dev/null
OUT=$(bk_ctl resize guest1 xvdc 1536K)
expect_out "resized xvdc on domain $dom to 1536 KiB"
OUT=$(bk_ctl resize guest1 xvdc 2560 --shrink)
expect_out "resized xvdc on domain $dom to 2560 bytes"
OUT=$(bk_ctl resize guest1 xvdc 3M)
expect_out "resized xvdc on domain $dom to 3 MiB"
OUT=$(bk_ctl list)
expect_out "$(printf "%-8s %-13s %-13s %10s" xvdc InitWait Initialising 3M)"
bk_ctl detach guest1 xvdc --force >/dev/null
bk_ctl detach guest1 xvdb --force >/dev/null
echo "attach and resize print 512 KiB, 1536 KiB, 2560 bytes and 3 MiB as such"
