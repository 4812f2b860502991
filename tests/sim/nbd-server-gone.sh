#!/usr/bin/env bash
# The NBD server dies for good under a simulated guest's I/O, on two queues that share one
# connection (the server offers no multi-conn). While blkbackd waits for it
# (timeout=10 on the disk), another guest's disk of the same daemon writes and verifies its
# whole disk, and blkbackctl answers and shows the disk reconnecting; the requests waiting
# are still unanswered then. Once the timeout has passed they fail with EIO: the guest's
# verify fails with I/O errors, the error counter counts them, and new I/O to the disk
# fails at once. The disk detaches cleanly.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-nbd.sh"
requires python3

nbd_setup
nbd_server gone --filter=multi-conn --filter=delay memory 64M delay-write=10ms \
	multi-conn-mode=disable
bk_sim guest1 guest2
bk_ctl attach guest1 "nbd:$(nbd_uri gone),timeout=10" --vdev xvdb --nowait >/dev/null ||
	fail "attach of the nbd disk failed"
bk_ctl attach guest2 mem:size=64M --vdev xvdb --nowait >/dev/null || fail "attach of the mem disk failed"

# Four passes: one pass of 64 MiB (1.3 s) could end before the kill below; after the
# timeout, each pass left fails at once.
fe_bg "$XENSIM_DIR/gone.log" guest1 verify xvdb --seed 31 --iodepth 16 --io-timeout 120 --queues 2 \
	--passes 4
vpid=$FE_PID
written() { [ "$(bk_stat guest1 xvdb wr_sect)" -ge "$1" ]; }
wait_for 60 written 8192 || { cat "$XENSIM_DIR/gone.log"; fail "the guest wrote nothing"; }
nbd_kill gone
lost() { grep -q "connection lost" "$BK_LOG"; }
wait_for 20 lost || fail "blkbackd did not notice the server go"
echo "killed nbdkit for good"

# Meanwhile: the other disk serves, the control socket answers, the nbd disk's I/O waits.
fe guest2 verify xvdb --seed 32 --iodepth 16 || fail "the other guest's disk stalled"
OUT=$(bk_ctl stats guest1 xvdb --json) || fail "blkbackctl stats failed: $OUT"
expect_out '"link": "reconnecting"'
failed() { grep -q "no server for 10 s" "$BK_LOG"; }
failed && fail "the nbd disk's requests failed before the other disk's verify ended"
kill -0 "$vpid" 2>/dev/null || fail "the nbd disk's guest ended before its requests failed"
[ "$(bk_stat guest1 xvdb inflight)" -gt 0 ] || fail "no request of the nbd disk waits"
echo "the other disk verified and blkbackctl answered while the nbd disk's requests waited"

# After the timeout: EIO to the guest.
wait_for 60 failed || fail "the waiting requests did not fail after the timeout"
grep "no server for" "$BK_LOG"
rc=0
wait "$vpid" || rc=$?
[ "$rc" -ne 0 ] || fail "the guest's verify passed with its server gone"
grep -i "error" "$XENSIM_DIR/gone.log" | head -3
[ "$(bk_stat guest1 xvdb err_req)" -gt 0 ] || fail "no error response counted"
expect_fail fe guest1 read xvdb 0 4096
echo "a new read fails at once: $(echo "$OUT" | tail -n 1)"
bk_ctl detach guest1 xvdb >/dev/null || fail "detach of the nbd disk failed"
bk_ctl detach guest2 xvdb >/dev/null || fail "detach of the mem disk failed"
echo "PASS nbd-server-gone"
