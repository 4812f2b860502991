#!/usr/bin/env bash
# blkbackd stopped with SIGTERM while a guest's I/O runs: it asks the frontend to close,
# exits 0 with nothing leaked (LeakSanitizer runs at its exit), and the userspace frontend
# notices the backend going away and exits with an error instead of hanging. Another disk
# has a read held by hung storage (fault=...:stall): blkbackd waits 10 s for it, says so,
# and exits all the same.
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
head -c 4M /dev/urandom >"$XENSIM_DIR/hung.img"
bk_ctl attach guest1 "file:$XENSIM_DIR/hung.img,fault=0+8:stall" --vdev xvdc --nowait
"$BUILD/xensim" run guest1 -- "$BUILD/blkfront" read xvdc 0 4096 >/dev/null 2>&1 &
held_reader=$!
held() { [ "$(bk_stat guest1 xvdc inflight 2>/dev/null)" = 1 ]; }
wait_for 30 held || fail "the read of the hung disk never reached blkbackd"

be=/local/domain/0/backend/vbd3/$(xensim list | awk '$2 == "guest1" {print $1}')/51728
bk_stop		# SIGTERM; fails unless blkbackd exits 0 with a clean sanitizer log
grep -q "Connected -> Closing" "$BK_LOG" || fail "blkbackd did not ask the guest to close"
grep -q "xvdc: its storage has not answered in 10 s; exiting without waiting for it" \
	"$BK_LOG" || fail "blkbackd did not say it left the hung disk's read behind"
kill "$held_reader" 2>/dev/null
wait "$held_reader" 2>/dev/null
rc=0
wait "$front" || rc=$?
[ "$rc" -ne 0 ] || fail "blkfront finished its 60 s run although the backend went away"
grep -qi "clos" "$XENSIM_DIR/bench.log" ||
	fail "blkfront did not say the backend closed: $(tail -n 3 "$XENSIM_DIR/bench.log")"
echo "SIGTERM: blkbackd exited 0, the frontend saw $be close and exited $rc"
