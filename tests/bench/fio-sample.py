#!/usr/bin/env python3
"""One anchor sample for make bench: run fio (the arguments given), print one JSON object
with blkfront bench's names: IOPS, MiB/s, requests, latency p50/p99, a log2 latency
histogram, and the CPU time of the whole fio process (every thread, the engine library's
too: fio's own usr/sys_cpu count only its job threads)."""
import json
import resource
import subprocess
import sys

before = resource.getrusage(resource.RUSAGE_CHILDREN)
run = subprocess.run(["fio"] + sys.argv[1:] + ["--output-format=json+"], stdout=subprocess.PIPE,
                     text=True)
after = resource.getrusage(resource.RUSAGE_CHILDREN)
if run.returncode:
    sys.exit("fio failed (exit %d): fio %s" % (run.returncode, " ".join(sys.argv[1:])))
out = run.stdout
j = json.loads(out[out.index("{"):])["jobs"][0]  # some engines print a line first
io = j["write"] if j["write"]["total_ios"] > j["read"]["total_ios"] else j["read"]
reqs = j["read"]["total_ios"] + j["write"]["total_ios"]
# with several jobs (group_reporting), each side's runtime is the wall time
secs = max(j["read"]["runtime"], j["write"]["runtime"]) / 1000.0
cpu = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1e6
p = io["clat_ns"]["percentile"]
hist = {}
for ns, n in io["clat_ns"].get("bins", {}).items():
    k = max(int(ns), 1).bit_length() - 1
    hist[k] = hist.get(k, 0) + n
print(json.dumps({
    "iops": reqs / secs, "mib_s": (j["read"]["io_bytes"] + j["write"]["io_bytes"]) / 1048576 / secs,
    "requests": reqs, "errors": j["error"], "runtime_s": secs,
    "lat_p50_us": p["50.000000"] / 1000, "lat_p99_us": p["99.000000"] / 1000,
    "lat_log2_ns": [hist.get(k, 0) for k in range(max(hist) + 1)] if hist else [],
    "cpu_us": cpu, "side_cpu_us": cpu}))
