#!/usr/bin/env bash
# blkfront bench --json in the simulator: one JSON object with the throughput, the latency
# percentiles and what the hypervisor would charge per request, counted by xensim for both
# domains. The numbers are printed, not judged: timing belongs in benchmarks. What is
# asserted is what must hold whatever the speed: every request completed without error, and
# with per-request grant mapping each request costs at least one map.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

bk_sim guest1
bk_ctl attach guest1 mem:size=256M --vdev xvdb --nowait
fe guest1 bench xvdb --rw randread --bs 4k --iodepth 32 --runtime 2 --json \
	>"$XENSIM_DIR/bench.json" || fail "bench failed"
cat "$XENSIM_DIR/bench.json"
python3 - "$XENSIM_DIR/bench.json" <<'PY' || fail "bench --json output is wrong"
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("iops", "mib_s", "lat_p50_us", "lat_p99_us", "grant_maps_per_req",
          "grant_copies_per_req", "notify_per_req", "requests", "errors"):
    assert k in r, "missing " + k
assert r["requests"] > 0 and r["errors"] == 0, r
assert r["iops"] > 0 and r["mib_s"] > 0, r
assert 0 < r["lat_p50_us"] <= r["lat_p99_us"], r
# Per-request mapping: every 4k read maps its page once (the backend's counters).
assert r["grant_maps_per_req"] >= 1.0, r
assert r["notify_per_req"] > 0, r
assert r["grant_copies_per_req"] == 0, r
PY
rd=$(bk_stat guest1 xvdb rd_req)
echo "blkbackd answered $rd reads"
[ "$rd" -ge "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' \
	"$XENSIM_DIR/bench.json")" ] || fail "blkbackd saw fewer reads than blkfront completed"
