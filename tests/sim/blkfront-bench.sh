#!/usr/bin/env bash
# blkfront bench --json in the simulator: one JSON object with the throughput, the latency
# percentiles and what the hypervisor would charge per request, counted by xensim for both
# domains. The numbers are printed, not judged: timing belongs in benchmarks. What is
# asserted is what must hold whatever the speed: every request completed without error;
# with per-request grant mapping each request costs at least one map, and with persistent
# grants (blkfront offers them unless --no-persistent) almost none.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

bk_sim guest1
bk_ctl attach guest1 mem:size=256M --vdev xvdb --nowait

# bench_json MODE [ARGS]: run a 2 s 4k randread at QD32 into $XENSIM_DIR/MODE.json and
# check the fields that must hold whatever the speed.
bench_json() {
	local mode=$1
	shift
	fe guest1 bench xvdb --rw randread --bs 4k --iodepth 32 --indirect-segs 0 --runtime 2 \
		--json "$@" \
		>"$XENSIM_DIR/$mode.json" || fail "bench ($mode) failed"
	echo "$mode: $(cat "$XENSIM_DIR/$mode.json")"
	python3 - "$XENSIM_DIR/$mode.json" <<'PY' || fail "bench --json ($mode) output is wrong"
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("iops", "mib_s", "lat_p50_us", "lat_p99_us", "grant_maps_per_req",
          "grant_copies_per_req", "notify_per_req", "requests", "errors"):
    assert k in r, "missing " + k
assert r["requests"] > 0 and r["errors"] == 0, r
assert r["iops"] > 0 and r["mib_s"] > 0, r
assert 0 < r["lat_p50_us"] <= r["lat_p99_us"], r
assert r["notify_per_req"] > 0, r
assert r["grant_copies_per_req"] == 0, r
PY
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }

# Grants mapped per request: every 4k read maps its page once (the backend's counters).
bench_json map --no-persistent
python3 -c 'import sys; sys.exit(not float(sys.argv[1]) >= 1.0)' \
	"$(field "$XENSIM_DIR/map.json" grant_maps_per_req)" || fail "map mode maps under 1 page per request"
# Persistent grants: the pages are mapped once, then kept (issue 5: at most 0.01 maps and
# 0.1 notifications per request in steady state).
bench_json persistent
python3 - "$XENSIM_DIR/persistent.json" <<'PY' || fail "persistent grants are not kept"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["grant_maps_per_req"] <= 0.01, r
assert r["notify_per_req"] <= 0.1, r
PY
[ "$(bk_stat guest1 xvdb persistent_grants)" -eq 0 ] || fail "persistent grants kept after disconnect"
rd=$(bk_stat guest1 xvdb rd_req)
n=$(($(field "$XENSIM_DIR/map.json" requests) + $(field "$XENSIM_DIR/persistent.json" requests)))
echo "blkbackd answered $rd reads, blkfront completed $n"
[ "$rd" -ge "$n" ] || fail "blkbackd saw fewer reads than blkfront completed"
grep -q "persistent grants)" "$BK_LOG" || fail "blkbackd did not log the persistent connection"

# Indirect requests on persistent grants (issue 19): blkbackd reads the descriptor pages
# through its persistent-grant cache, as Linux blkback, so in steady state they cost no
# grant copy at all, and each page the frontend shares is mapped once at most.
stats() { bk_ctl stats guest1 xvdb --json; }
delta() {
	python3 -c 'import json,sys; a,b=(json.loads(x)[0] for x in sys.argv[1:3]); print(b[sys.argv[3]]-a[sys.argv[3]])' \
		"$@"
}
s0=$(stats) || fail "blkbackctl stats failed"
# Correct data: 1 MiB writes and reads, every one indirect, checked block by block.
fe guest1 verify xvdb --size 32M --bs 1M --indirect-segs 256 --indirect always ||
	fail "verify over 1 MiB indirect requests failed"
bench_json indirect --rw read --bs 1M --indirect-segs 256 --indirect always
s1=$(stats) || fail "blkbackctl stats failed"
ind=$(delta "$s0" "$s1" ind_req) copies=$(delta "$s0" "$s1" grant_copies)
calls=$(delta "$s0" "$s1" grant_copy_calls) maps=$(delta "$s0" "$s1" grant_maps)
echo "indirect, persistent: $ind indirect requests, $copies grant copies in $calls calls, $maps maps"
[ "$ind" -gt 0 ] || fail "no indirect request reached blkbackd"
[ "$copies" -eq 0 ] && [ "$calls" -eq 0 ] ||
	fail "$copies grant copies ($calls calls) for $ind indirect requests on persistent grants"
# Two connections (verify, bench), each sharing at most gntalloc's 1024 pages.
[ "$maps" -le 2048 ] || fail "$maps grant maps for $ind indirect requests: pages not kept"
