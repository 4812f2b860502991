#!/usr/bin/env bash
# make bench: blkbackd's data path in the simulator, measured with blkfront bench --json,
# beside fio's io_uring engine on a tmpfs file of the same size, one after the other on
# this machine; writes the table into docs/performance.md between its markers.
# Numbers, not verdicts: nothing here passes or fails on speed.
#   BENCH_RUNTIME (default 10) seconds per run, BENCH_RUNS (default 3): the median is kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../helpers.sh"
source "$here/../sim/lib.sh"
source "$here/../sim/lib-blkback.sh"
runtime=${BENCH_RUNTIME:-10} runs=${BENCH_RUNS:-3} size=1G
out=$REPO/docs/performance.md

if ! command -v fio >/dev/null; then
	[ "$(id -u)" -eq 0 ] || { echo "bench: needs fio: sudo apt-get install fio" >&2; exit 1; }
	echo "bench: installing fio (apt-get install fio)"
	apt-get install -y -qq --no-install-recommends fio >/dev/null
fi

# One blkfront bench run: its JSON object.
front_run() {
	# 4k requests need no indirect pages; without them 64 slots fit, for iodepth 32.
	fe guest1 bench xvdb --rw randread --bs 4k --iodepth 32 --indirect-segs 0 \
		--runtime "$runtime" --json "$@"
}

# One fio run on a tmpfs file: a JSON object with the same names.
fio_run() {
	fio --name=randread --filename="$tmpf" --size="$size" --rw=randread --bs=4k \
	    --iodepth=32 --ioengine=io_uring --direct=1 --runtime="$runtime" --time_based \
	    --output-format=json | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]["read"]
p = j["clat_ns"]["percentile"]
print(json.dumps({"iops": j["iops"], "mib_s": j["bw_bytes"] / 1048576,
                  "lat_p50_us": p["50.000000"] / 1000, "lat_p99_us": p["99.000000"] / 1000}))'
}

# The median run (by IOPS) of $runs runs of $1, as one JSON line.
median() {
	local i
	for ((i = 0; i < runs; i++)); do "$@"; done | python3 -c '
import json, sys
rs = sorted((json.loads(l) for l in sys.stdin if l.strip()), key=lambda r: r["iops"])
print(json.dumps(rs[len(rs) // 2]))'
}

sim_start
xensim create guest1 >/dev/null
declare -A res
for mode in persistent map copy; do
	echo "bench: blkbackd --grant-mode=$mode, blkfront bench in xensim, $runs x $runtime s"
	bk_start --grant-mode=$mode
	bk_ctl attach guest1 mem:size=$size --vdev xvdb --nowait >/dev/null
	res[$mode]=$(median front_run)
	bk_ctl detach guest1 xvdb >/dev/null
	bk_stop
done
tmpf=$(mktemp /dev/shm/blkbackd-bench.XXXXXX)
cleanup_add "rm -f '$tmpf'"
truncate -s "$size" "$tmpf"
echo "bench: fio io_uring on tmpfs, $runs x $runtime s"
fio=$(median fio_run)

python3 - "$out" "${res[persistent]}" "${res[map]}" "${res[copy]}" "$fio" "$(nproc)" \
	"$(uname -r)" "$runtime" "$runs" <<'PY'
import json, re, sys
path, pers, mapped, copy, fio, ncpu, kernel, runtime, runs = sys.argv[1:]
g = json.loads(fio)
row = "| %s | %.0f | %.1f | %.0f | %.0f | %.4f | %.2f | %.3f |"
rows = [
    "| what | IOPS | MiB/s | p50 us | p99 us | grant maps/req | grant copies/req | notifications/req |",
    "|---|---|---|---|---|---|---|---|",
] + [row % (name, f["iops"], f["mib_s"], f["lat_p50_us"], f["lat_p99_us"],
            f["grant_maps_per_req"], f["grant_copies_per_req"], f["notify_per_req"])
     for name, f in (("blkbackd `--grant-mode=persistent` (xensim, blkfront bench)",
                      json.loads(pers)),
                     ("blkbackd `--grant-mode=map`", json.loads(mapped)),
                     ("blkbackd `--grant-mode=copy`", json.loads(copy)))] + [
    "| fio io_uring, O_DIRECT on a tmpfs file | %.0f | %.1f | %.0f | %.0f | - | - | - |"
    % (g["iops"], g["mib_s"], g["lat_p50_us"], g["lat_p99_us"]),
]
modes = {"persistent": json.loads(pers), "map": json.loads(mapped), "copy": json.loads(copy)}
best = max(modes, key=lambda m: modes[m]["iops"])
table = "\n".join(rows) + "\n\nFastest grant mode here: **%s**. " % best + "4k random reads at queue depth 32 from a 1 GiB mem disk, one queue; %s CPUs, Linux %s; the median of %s runs of %s s (`make bench`).\n" % (ncpu, kernel, runs, runtime)
text = open(path).read()
new, n = re.subn(r"(<!-- bench table -->\n).*?(<!-- end of bench table -->)",
                 lambda m: m.group(1) + table + m.group(2), text, flags=re.S)
if n != 1:
    sys.exit("docs/performance.md lacks the bench table markers")
open(path, "w").write(new)
print(table)
PY
echo "bench: wrote $out"
