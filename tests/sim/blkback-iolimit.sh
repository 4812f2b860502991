#!/usr/bin/env bash
# Per-disk I/O limits (iops=, bps= and their bursts): set in the spec at attach, shown by
# stats, changed live with blkbackctl limit; bad values refused saying what is wrong; I/O
# over the limit waits and completes without error. Counts only: nothing here is timed.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"

bk_sim guest1

# Run "$@"; it must fail with exit status $1 and say $2.
refused() {
	local rc=0 want=$1 msg=$2
	shift 2
	OUT=$("$@" 2>&1) || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want: $OUT"
	expect_out "$msg"
}

# A bad limit in the spec fails the attach, saying which and why; nothing is attached.
refused 2 "bad iops-burst '0': a burst of 0 would let no request through" \
	bk_ctl attach guest1 mem:size=4M,iops=5000,iops-burst=0 --vdev xvdc --nowait
refused 2 "iops-burst=5 without iops" bk_ctl attach guest1 mem:size=4M,iops-burst=5 --nowait
refused 2 "bad bps 'lots': not a number" bk_ctl attach guest1 mem:size=4M,bps=lots --nowait
refused 2 "bad iops '99999999': out of range" bk_ctl attach guest1 mem:size=4M,iops=99999999 --nowait
OUT=$(bk_ctl list)
[[ $OUT != *xvdc* ]] || fail "a refused spec was attached: $OUT"

# Attached with a limit: stats shows it, the bucket full.
bk_ctl attach guest1 mem:size=4M,iops=200,iops-burst=4 --vdev xvdb --nowait >/dev/null ||
	fail "attach with iops=200,iops-burst=4 failed"
[ "$(bk_stat guest1 xvdb iops_limit)" = 200 ] || fail "stats: iops_limit not 200"
[ "$(bk_stat guest1 xvdb iops_burst)" = 4 ] || fail "stats: iops_burst not 4"
[ "$(bk_stat guest1 xvdb iops_tokens)" = 4 ] || fail "stats: the bucket is not full at first"
[ "$(bk_stat guest1 xvdb bps_limit)" = 0 ] || fail "stats: a bps limit nobody set"
OUT=$(bk_ctl stats guest1 xvdb)
expect_out "limits: iops 200/s (burst 4, holds 4), bps none"

# Written and read back through the limit (128 requests at most 4 at once): all good, and
# requests did wait.
fe guest1 verify xvdb --size 256k --bs 4k --iodepth 16 >/dev/null ||
	fail "verify through iops=200 failed"
[ "$(bk_stat guest1 xvdb err_req)" = 0 ] || fail "throttled requests failed"
[ "$(bk_stat guest1 xvdb wr_req)" -ge 64 ] || fail "fewer writes than verify sent"
[ "$(bk_stat guest1 xvdb rd_req)" -ge 64 ] || fail "fewer reads than verify sent"
t1=$(bk_stat guest1 xvdb throttled)
[ "$t1" -gt 0 ] || fail "128 requests at 16 deep through a burst of 4: none waited"
[ "$(bk_stat guest1 xvdb throttle_ns)" -gt 0 ] || fail "requests waited no time"

# Changed live: what is not given stays; a rate alone gets the default burst.
OUT=$(bk_ctl limit guest1 xvdb bps=256K bps-burst=16K) || fail "limit bps=256K failed: $OUT"
expect_out "iops  200 requests a second, burst 4"
expect_out "bps   256K bytes a second, burst 16K"
[ "$(bk_stat guest1 xvdb bps_limit)" = 262144 ] || fail "stats: bps_limit not 256K"
OUT=$(bk_ctl limit guest1 xvdb iops=0) || fail "limit iops=0 failed: $OUT"
expect_out "iops  no limit"
[ "$(bk_stat guest1 xvdb iops_limit)" = 0 ] || fail "stats: iops still limited"
[ "$(bk_stat guest1 xvdb bps_burst)" = 16384 ] || fail "stats: the bps burst changed"
OUT=$(bk_ctl limit guest1 xvdb iops=1000) || fail "limit iops=1000 failed: $OUT"
[ "$(bk_stat guest1 xvdb iops_burst)" = 100 ] || fail "iops=1000 alone: burst not the default 100"
OUT=$(bk_ctl limit guest1 xvdb) || fail "limit with no values failed: $OUT"
expect_out "xvdb on domain"
expect_out "requests waited for their turn"

# Bad values are refused, and change nothing.
refused 2 "bad iops 'abc': not a number" bk_ctl limit guest1 xvdb iops=abc
refused 2 "bad iops-burst '0'" bk_ctl limit guest1 xvdb iops-burst=0
refused 2 "bad bps '100': out of range" bk_ctl limit guest1 xvdb bps=100
refused 2 "unknown limit 'speed=3'" bk_ctl limit guest1 xvdb speed=3
bk_ctl limit guest1 xvdb iops=0 >/dev/null
refused 1 "iops-burst=7 without iops" bk_ctl limit guest1 xvdb iops-burst=7
refused 1 "serves no disk" bk_ctl limit guest1 xvdd iops=5
[ "$(bk_stat guest1 xvdb iops_limit)" = 0 ] || fail "a refused change changed the iops"
[ "$(bk_stat guest1 xvdb bps_limit)" = 262144 ] || fail "a refused change changed the bps"

# Bytes: 64 KiB requests (indirect) through a 16 KiB burst, on two queues sharing the
# bucket: they wait, go in debt, and complete.
fe guest1 verify xvdb --size 512k --bs 64k --iodepth 8 --queues 2 --indirect always >/dev/null ||
	fail "verify through bps=256K failed"
[ "$(bk_stat guest1 xvdb err_req)" = 0 ] || fail "bps-throttled requests failed"
[ "$(bk_stat guest1 xvdb throttled)" -gt "$t1" ] || fail "64 KiB requests through 16K: none waited"

# A frontend held at 1 request a second, then let go live: its I/O finishes.
bk_ctl limit guest1 xvdb iops=1 iops-burst=1 bps=0 >/dev/null
t2=$(bk_stat guest1 xvdb throttled) w2=$(bk_stat guest1 xvdb wakeups)
fe_bg "$XENSIM_DIR/slow.log" guest1 verify xvdb --size 64k --bs 4k --iodepth 4
wait_for 20 eval '[ "$(bk_stat guest1 xvdb throttled)" -ge $((t2 + 2)) ]' ||
	fail "no request waited at 1 a second"
# Two requests waited a second each: the ring's thread slept through it, it did not spin
# (a spinning thread wakes hundreds of thousands of times a second).
w=$(($(bk_stat guest1 xvdb wakeups) - w2))
[ "$w" -lt 500 ] || fail "the ring's thread woke $w times while 2 requests waited a second each"
bk_ctl limit guest1 xvdb iops=0 >/dev/null
wait "$FE_PID" || fail "verify after the limit was lifted: $(cat "$XENSIM_DIR/slow.log")"
[ "$(bk_stat guest1 xvdb err_req)" = 0 ] || fail "requests failed across the change"

# A resize while a 64 KiB request waits for a 4 KiB/s limit (16 s): the disk is held still
# at once, the waiting request let go first (its cost still owed), not after 16 s.
bk_ctl limit guest1 xvdb iops=0 bps=4K bps-burst=4K >/dev/null
fe_bg "$XENSIM_DIR/big.log" guest1 bench xvdb --rw randread --bs 64k --iodepth 4 --runtime 3
wait_for 20 eval '[ "$(bk_stat guest1 xvdb bps_tokens)" = 0 ]' ||
	fail "the 4 KiB/s bucket was never spent"
OUT=$(bk_ctl resize guest1 xvdb 8M 2>&1) || fail "resize with a request waiting for its limit: $OUT"
expect_out "resized xvdb"
bk_ctl limit guest1 xvdb bps=0 >/dev/null
wait "$FE_PID" || fail "bench across the resize: $(cat "$XENSIM_DIR/big.log")"
[ "$(bk_stat guest1 xvdb err_req)" = 0 ] || fail "requests failed across the resize"

# A daemon that stops while a request waits for its tokens answers it and exits cleanly.
bk_ctl limit guest1 xvdb iops=1 iops-burst=1 >/dev/null
t3=$(bk_stat guest1 xvdb throttled)
fe_bg "$XENSIM_DIR/held.log" guest1 bench xvdb --rw randread --iodepth 8 --runtime 60
wait_for 20 eval '[ "$(bk_stat guest1 xvdb throttled)" -ge $((t3 + 2)) ]' ||
	fail "no request waited before the stop"
bk_stop
kill "$FE_PID" 2>/dev/null
wait "$FE_PID" 2>/dev/null
grep -q "I/O limits set: iops 1 (burst 1)" "$BK_LOG" || fail "the daemon did not log the change"
echo "limits refused when bad, shown, changed live; throttled I/O waited and completed"
