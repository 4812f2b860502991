#!/usr/bin/env bash
# The daemon's memory stays under the bound docs/reference.md gives ("What the daemon holds"):
# 32 file disks across 8 guests, all connected at once with I/O on each (128 KiB random
# reads and writes, persistent grants), under --grant-pages-domain 4096 --grant-pages 16384.
# While they run, the grant pages the daemon maps ('stats --daemon') stay under
#   ring pages (16 per ring at most) + min(--grant-pages, sum over guests of
#   min(--grant-pages-domain, rings x (1056 + 4096 + 255)))
# and its resident memory (/proc, VmRSS), less what it held once the disks were attached,
# under those pages (4 KiB each) plus, per ring, its request slots (8376 bytes each, 32
# per ring page), its indirect-segment buffer (128 KiB), its journal (128 bytes a slot)
# and 1 MiB of thread stacks and engine queue. A sanitizer build keeps freed memory in
# quarantine and shadows what it maps, so there the measure is the same with ASAN_OPTIONS
# capping the quarantine, and the per-ring share counted twice (docs/reference.md says so).
# When every frontend has gone, no grant page is mapped any more.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

GUESTS=8 PER=4 DOM_PAGES=4096 ALL_PAGES=16384
RING_PAGES=16 PERSISTENT_MAX=1056 INFLIGHT_MAX=$((4096 + 255))
# sizeof(struct blk_req) on x86-64 (blkback/req.h), request slots per ring page, ...
SLOT_BYTES=8376 SLOTS_PER_PAGE=32 ISEG_BYTES=$((128 * 1024)) JOURNAL_SLOT=128
RING_EXTRA=$((1024 * 1024))
RUNTIME=${MEMORY_RUNTIME:-30}	# seconds of I/O: a bound for the frontends to connect in
if [ -n "${BLKBACK_SAN:-}" ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16
	SAN_FACTOR=2
else
	SAN_FACTOR=1
fi

sim_start
vdevs=(xvdb xvdc xvdd xvde)
disks=()
for ((g = 1; g <= GUESTS; g++)); do
	xensim create "g$g" >/dev/null || fail "cannot create g$g"
	for ((i = 0; i < PER; i++)); do disks+=("g$g:${vdevs[i]}"); done
done
bk_start --grant-pages-domain $DOM_PAGES --grant-pages $ALL_PAGES
pid=$(pgrep -P "$BK_PID" -x blkbackd || echo "$BK_PID")
[ "$(cat "/proc/$pid/comm")" = blkbackd ] || fail "cannot find blkbackd's process"
rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$pid/status"; }
grant_pages() {
	bk_ctl stats --daemon --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["grant_pages"])'
}
apids=()
for d in "${disks[@]}"; do
	img=$XENSIM_DIR/${d/:/-}.img
	truncate -s 8M "$img"
	bk_ctl attach "${d%%:*}" "file:$img" --vdev "${d#*:}" --nowait >/dev/null &
	apids+=($!)
done
for p in "${apids[@]}"; do wait "$p" || fail "an attach failed"; done
echo "attached at ${SECONDS}s"
base=$(rss)
echo "attached ${#disks[@]} disks: blkbackd's RSS $((base / 1024)) KiB"

# Every disk connected, with I/O done on it?
all_busy() {
	bk_ctl stats --json | python3 -c 'import json, sys
s = json.load(sys.stdin)
sys.exit(not (len(s) == int(sys.argv[1]) and all(r["connected"] and r["rd_req"] and r["wr_req"] for r in s)))' "${#disks[@]}"
}
pids=()
for d in "${disks[@]}"; do
	fe_bg "$XENSIM_DIR/${d/:/-}.log" "${d%%:*}" bench "${d#*:}" --rw randrw --bs 128k \
		--iodepth 4 --runtime "$RUNTIME" --backend-timeout 60
	pids+=("$FE_PID")
done
wait_for $((RUNTIME - 5)) all_busy || fail "not every disk connected and did I/O: $(bk_ctl stats)"
echo "every disk busy at ${SECONDS}s"
# The most seen while every frontend runs.
max_rss=0 max_pages=0 samples=0
while kill -0 "${pids[@]}" 2>/dev/null; do
	r=$(rss) p=$(grant_pages)
	[ "$r" -gt "$max_rss" ] && max_rss=$r
	[ "$p" -gt "$max_pages" ] && max_pages=$p
	samples=$((samples + 1))
done
[ "$samples" -ge 2 ] || fail "only $samples samples while every frontend ran"
for i in "${!pids[@]}"; do
	wait "${pids[i]}" || fail "the bench on ${disks[i]} failed: $(tail -n 3 "$XENSIM_DIR/${disks[i]/:/-}.log")"
done

rings=${#disks[@]} data=0
for ((g = 1; g <= GUESTS; g++)); do
	want=$((PER * (PERSISTENT_MAX + INFLIGHT_MAX)))
	data=$((data + (want < DOM_PAGES ? want : DOM_PAGES)))
done
[ "$data" -lt "$ALL_PAGES" ] || data=$ALL_PAGES
page_bound=$((rings * RING_PAGES + data))
ring_bytes=$((RING_PAGES * SLOTS_PER_PAGE * (SLOT_BYTES + JOURNAL_SLOT) + ISEG_BYTES + RING_EXTRA))
rss_bound=$((page_bound * 4096 + SAN_FACTOR * rings * ring_bytes))
echo "grant pages mapped: at most $max_pages of $samples samples; bound $page_bound"
echo "RSS over the attached daemon's: at most $(((max_rss - base) / 1024)) KiB; bound" \
	"$((rss_bound / 1024)) KiB (${rings} rings of $((ring_bytes / 1024)) KiB, x$SAN_FACTOR," \
	"and the grant pages)"
[ "$max_pages" -le "$page_bound" ] || fail "the daemon mapped $max_pages grant pages, over the bound $page_bound"
[ $((max_rss - base)) -le "$rss_bound" ] ||
	fail "blkbackd's RSS grew by $(((max_rss - base) / 1024)) KiB, over the bound $((rss_bound / 1024)) KiB"
gone() { [ "$(grant_pages)" -eq 0 ]; }
wait_for 20 gone || fail "$(grant_pages) grant pages still mapped once every frontend left"
for d in "${disks[@]}"; do
	[ "$(bk_stat "${d%%:*}" "${d#*:}" err_req)" -eq 0 ] || fail "$d counts failed requests"
done
bk_serving || fail "blkbackd no longer answers"
