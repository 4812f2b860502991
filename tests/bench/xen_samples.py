#!/usr/bin/env python3
"""make bench's real-Xen samples: the XB-SAMPLE lines of a `tests/xen/run.sh bench` console
log (tests/xen/dom0-bench.sh) as samples.jsonl lines in make bench's format, one per row
and side (report.py and xen_report.py read them).

Usage: xen_samples.py CONSOLE_LOG >> OUT/samples.jsonl

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


def main():
    out, bad = [], 0
    with open(sys.argv[1], errors="replace") as f:
        lines = [l.rstrip("\n").replace("\r", "") for l in f]
    for i, line in enumerate(lines):
        if not line.startswith("XB-SAMPLE "):
            continue
        # Xen's own console lines share the serial port and can land inside a sample's
        # line ("...\"b(XEN) uart interrupt taking more than 4ms...", then "ackend...")
        if not line.endswith("}") and "(XEN) " in line and i + 1 < len(lines):
            line = line[:line.index("(XEN) ")] + lines[i + 1]
        try:
            d = json.loads(line[len("XB-SAMPLE "):])
            s = convert(d)
        except (ValueError, KeyError, TypeError) as e:
            bad += 1
            print("xen_samples: a sample line that does not parse (%s): %s" % (e, line[:200]),
                  file=sys.stderr)
            continue
        row, qd = JOB_ROWS[d["job"]]
        names = []
        if d["kind"] == "ours" and d["backend"] in PAIRS:
            names.append((row + PAIRS[d["backend"]][1], "ours", qd))
            if d["job"] == "qd32":
                names.append((NOTIFY_ROW + PAIRS[d["backend"]][1], "ours", 32))
        else:
            for eng, (kb, suffix) in PAIRS.items():
                if kb == d["backend"]:
                    names.append((row + suffix, "anchor", qd))
                    if d["job"] == "qd32":
                        names.append((NOTIFY_ROW + suffix, "anchor", 32))
        for name, side, q in names:
            r = dict(s, row=name, side=side, qd=q)
            out.append(json.dumps(r))
    for line in out:
        print(line)
    print("xen_samples: %d sample lines of %s%s" % (len(out), sys.argv[1],
          ", %d that did not parse" % bad if bad else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
