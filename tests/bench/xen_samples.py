#!/usr/bin/env python3
"""make bench's real-Xen samples: the XB-SAMPLE lines of a `tests/xen/run.sh bench` console
log (tests/xen/dom0-bench.sh) as samples.jsonl lines in make bench's format, one per row
and side (report.py and xen_report.py read them).

Usage: xen_samples.py CONSOLE_LOG [PROFILES] >> OUT/samples.jsonl

With PROFILES (make bench's OUT/profiles.jsonl), the XB-PROFILE lines (dom0's perf profile
of one more sample of a job on a disk) are appended there, one per row and side.

Each dom0 sample is one fio run in the guest on one disk. Rows pair blkbackd's disks with the
kernel xen-blkback's on the same storage: file: and uring: against the loop device over a
file of the same bytes in the same tmpfs, mem: against brd. The row's plain name is the
file: engine's (blkbackd's default); NAME/uring and NAME/mem are the other two. A kernel
sample serves as the anchor of each row it pairs with.
"""
import json
import sys

JOB_ROWS = {"qd32": ("xen-4k-randread-qd32-vs-kernel", 32), "qd1": ("xen-4k-qd1-vs-kernel", 1),
            "1m": ("xen-1m-seqread-vs-kernel", 4)}
NOTIFY_ROW = "xen-notify-per-req"       # from the qd32 samples
# blkbackd's engine -> (the kernel backend it is measured against, the row name's suffix)
PAIRS = {"file": ("loop", ""), "uring": ("loop", "/uring"), "mem": ("brd", "/mem")}


def convert(d):
    """One XB-SAMPLE object as the sample fields make bench's report reads."""
    hz = d.get("hz", 100)
    reqs = d["fio_iops"] * d["fio_ms"] / 1000.0        # fio's I/Os in the sample
    blk = max(d["blk_reqs"], 1)                          # blkif requests the backend counted
    s = {
        "iops": d["fio_iops"], "mib_s": d["fio_kb"] / 1024.0 / max(d["fio_ms"] / 1000.0, 1e-9),
        "requests": reqs, "errors": d["fio_err"], "runtime_s": d["fio_ms"] / 1000.0,
        "lat_p50_us": d["p50_us"], "lat_p99_us": d["p99_us"], "lat_log2_ns": [],
        # dom0's busy CPU over the sample (its one vCPU: every backend's work, both kinds)
        "side_cpu_us": d["dom0_busy_ticks"] * 1e6 / hz, "cpu_us": d["dom0_busy_ticks"] * 1e6 / hz,
        # the backend's own threads: blkbackd, or the kernel's blkback.* threads
        "backend_cpu_us": d["backend_ticks"] * 1e6 / hz,
        "blk_reqs": d["blk_reqs"], "round": d["round"], "backend": d["backend"],
        # of the backend's CPU, the part in the kernel (system calls, faults; kthreads: all),
        # and its threads' context switches per blkif request (each a sleep or a preemption)
        "backend_sys_ticks": d.get("backend_sys_ticks"), "backend_ticks": d["backend_ticks"],
        "backend_switches_per_req": d["backend_switches"] / blk if "backend_switches" in d else None,
        # events per blkif request: to the guest (its blkif interrupts) and to the backend
        # (dom0's blkif-backend or evtchn:blkbackd interrupts)
        "notify_per_req": (d["guest_irqs"] + d["dom0_irqs"]) / blk,
        "notify_to_guest_per_req": d["guest_irqs"] / blk,
        "notify_to_backend_per_req": d["dom0_irqs"] / blk,
        "emulated": True,
    }
    if d["kind"] == "ours":
        s["daemon_cpu_us"] = s["backend_cpu_us"]
        for k in ("notifies", "wakeups", "grant_maps", "grant_unmaps", "grant_copies", "grant_copy_calls",
                  "poll_hits"):
            if k in d:
                s["daemon_%s_per_req" % k] = d[k] / blk
    return s


def rows_of(job, backend):
    """The (row, side, queue depth) names a sample of job on backend counts for."""
    row, qd = JOB_ROWS[job]
    names = []
    if backend in PAIRS:
        names.append((row + PAIRS[backend][1], "ours", qd))
        if job == "qd32":
            names.append((NOTIFY_ROW + PAIRS[backend][1], "ours", 32))
    else:
        for kb, suffix in PAIRS.values():
            if kb == backend:
                names.append((row + suffix, "anchor", qd))
                if job == "qd32":
                    names.append((NOTIFY_ROW + suffix, "anchor", 32))
    return names


def marked(lines, tag):
    """The JSON objects of the console lines that start with tag, and how many did not parse."""
    objs, bad = [], 0
    for i, line in enumerate(lines):
        if not line.startswith(tag + " "):
            continue
        # Xen's own console lines share the serial port and can land inside a sample's
        # line ("...\"b(XEN) uart interrupt taking more than 4ms...", then "ackend...")
        if not line.endswith("}") and "(XEN) " in line and i + 1 < len(lines):
            line = line[:line.index("(XEN) ")] + lines[i + 1]
        try:
            objs.append(json.loads(line[len(tag) + 1:]))
        except ValueError as e:
            bad += 1
            print("xen_samples: a %s line that does not parse (%s): %s" % (tag, e, line[:200]),
                  file=sys.stderr)
    return objs, bad


def main():
    out = []
    with open(sys.argv[1], errors="replace") as f:
        lines = [l.rstrip("\n").replace("\r", "") for l in f]
    samples, bad = marked(lines, "XB-SAMPLE")
    for d in samples:
        try:
            s = convert(d)
            names = rows_of(d["job"], d["backend"])
        except (KeyError, TypeError) as e:
            bad += 1
            print("xen_samples: a sample that does not convert (%s): %s" % (e, str(d)[:200]),
                  file=sys.stderr)
            continue
        for name, side, q in names:
            out.append(json.dumps(dict(s, row=name, side=side, qd=q)))
    for line in out:
        print(line)
    profiles, pbad = marked(lines, "XB-PROFILE")
    if len(sys.argv) > 2:
        with open(sys.argv[2], "a") as f:
            for p in profiles:
                for name, side, _ in rows_of(p["job"], p["backend"]):
                    f.write(json.dumps({"row": name, "side": side, "backend": p["backend"],
                                        "samples": p["samples"], "threads": p["threads"],
                                        "calls": p["calls"], "dom0_top": p["top"]}) + "\n")
    print("xen_samples: %d sample lines and %d profiles of %s%s" % (
        len(out), len(profiles), sys.argv[1],
        ", %d lines that did not parse" % (bad + pbad) if bad + pbad else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
