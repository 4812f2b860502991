#!/usr/bin/env bash
# blkbackd stopped with SIGTERM while a guest's I/O runs: it asks the frontend to close,
# exits 0 with nothing leaked (LeakSanitizer runs at its exit), and the userspace frontend
# notices the backend going away and exits with an error instead of hanging.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

bk_sim guest1
bk_ctl attach guest1 mem:size=64M --vdev xvdb --nowait
fe_bg "$XENSIM_DIR/bench.log" guest1 bench xvdb --rw randrw --iodepth 16 --runtime 60
front=$FE_PID
busy() { [ "$(bk_stat guest1 xvdb rd_req 2>/dev/null || echo 0)" -ge 1000 ]; }
wait_for 30 busy || fail "the guest's I/O never reached blkbackd"

be=/local/domain/0/backend/vbd3/$(xensim list | awk '$2 == "guest1" {print $1}')/51728
bk_stop		# SIGTERM; fails unless blkbackd exits 0 with a clean sanitizer log
grep -q "Connected -> Closing" "$BK_LOG" || fail "blkbackd did not ask the guest to close"
rc=0
wait "$front" || rc=$?
[ "$rc" -ne 0 ] || fail "blkfront finished its 60 s run although the backend went away"
grep -qi "clos" "$XENSIM_DIR/bench.log" ||
	fail "blkfront did not say the backend closed: $(tail -n 3 "$XENSIM_DIR/bench.log")"
echo "SIGTERM: blkbackd exited 0, the frontend saw $be close and exited $rc"
