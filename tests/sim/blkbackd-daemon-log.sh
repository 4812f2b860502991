#!/usr/bin/env bash
# blkbackd --daemon without a syslog daemon (no socket at /dev/log) still logs: to KIND.log
# in its run directory, as blkbackd(8) says; the disks' log lines land there, whole and dated.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"

if [ -S /dev/log ]; then
	echo "skipped: a syslog daemon listens on /dev/log here, so the fallback is not used"
	exit 77
fi
sim_start
xensim create guest1 >/dev/null || fail "cannot create guest1"
export BLKBACKD_RUNDIR=$XENSIM_DIR/blkbackd
# A detached daemon's stderr is /dev/null: its sanitizer reports go to files.
mkdir -p "$XENSIM_DIR/san"
OUT=$(ASAN_OPTIONS=log_path=$XENSIM_DIR/san/r UBSAN_OPTIONS=log_path=$XENSIM_DIR/san/r \
	xensim run Domain-0 -- "$BUILD/blkbackd" --kind vbd9 --daemon 2>&1) ||
	fail "blkbackd --daemon failed: $OUT"
log=$BLKBACKD_RUNDIR/vbd9.log
pid=$(cat "$BLKBACKD_RUNDIR/vbd9.pid")
cleanup_add "kill $pid 2>/dev/null || true"
expect_out "serving /local/domain/0/backend/vbd9"	# on the terminal, until it serves
bk_ctl --kind vbd9 attach guest1 mem:size=16M --vdev xvdb --nowait >/dev/null ||
	fail "attach to the daemon failed"
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ blkbackd info: no syslog listens on /dev/log: logging here$' \
	"$log" || fail "no dated first line in $log: $(head -n 3 "$log")"
grep -q "blkbackd info: d1 xvdb: mem:size=16M, 16 MiB, frontend /local/domain/1/device/vbd/51728" \
	"$log" || fail "the disk's log line is not in $log: $(cat "$log")"
bk_ctl --kind vbd9 detach guest1 xvdb >/dev/null
kill -TERM "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
wait_for 20 gone || fail "blkbackd did not exit on SIGTERM"
grep -q "signal Terminated: closing every disk and exiting" "$log" || fail "no exit line in $log"
for f in "$XENSIM_DIR"/san/r.*; do
	[ -e "$f" ] && { cat "$f"; fail "sanitizer report from blkbackd --daemon: $f"; }
done
echo "ok: the daemon's log went to $log"
