"""make bench's real-Xen rows (tests/bench/xen.sh, xen_samples.py) for report.py: ratios of
blkbackd against the kernel's xen-blkback in the same emulated boot, as ratios only.

Under QEMU's full emulation (TCG) absolute IOPS, latency and CPU time say nothing about a
real machine, so the table shows ratios, and the why-lines compare ours with the kernel's
(CPU per request as a ratio, notifications per request as counts, which emulation does not
make up).
"""
import statistics

GOAL = 1.0
# name -> (what is measured, metric): "iops" ours / kernel, "p50" kernel p50 / ours,
# "notify" kernel's notifications per request / ours.
ROWS = {
    "xen-4k-randread-qd32-vs-kernel": ("4 KiB random reads, QD32", "iops"),
    "xen-4k-qd1-vs-kernel": ("4 KiB random reads, QD1, p50 latency", "p50"),
    "xen-1m-seqread-vs-kernel": ("1 MiB sequential reads, QD4", "iops"),
    "xen-notify-per-req": ("event notifications per request, both directions, 4 KiB QD32", "notify"),
}
ENGINES = (("", "file: (blkbackd's default engine)", "loop device over a file of the same bytes"),
           ("/uring", "uring: (O_DIRECT)", "loop device over a file of the same bytes"),
           ("/mem", "mem:", "brd"))


def value(metric, side):
    """The metric's median of one side's samples."""
    key = {"iops": "iops", "p50": "lat_p50_us", "notify": "notify_per_req"}[metric]
    return statistics.median(s[key] for s in side)


def ratio_of(metric, ours, anchor):
    """Ours against the anchor, higher is better (0 when undefined)."""
    o, a = value(metric, ours), value(metric, anchor)
    if metric == "iops":
        return o / a if a else 0.0
    return a / o if o else 0.0


def per_round(metric, ours, anchor):
    """The ratio of each round that has both sides: its spread (min, max)."""
    rs = []
    for r in sorted({s["round"] for s in ours} & {s["round"] for s in anchor}):
        o = [s for s in ours if s["round"] == r]
        a = [s for s in anchor if s["round"] == r]
        rs.append(ratio_of(metric, o, a))
    return (min(rs), max(rs)) if rs else (0.0, 0.0)


def med(side, key, per_req=True):
    """Median over samples of key (per fio I/O when per_req)."""
    vals = [s[key] / max(s["requests"], 1) if per_req else s[key] for s in side
            if s.get(key) is not None]
    return statistics.median(vals) if vals else float("nan")


def why(name, metric, ours, anchor):
    """Why a row missed its goal, from what was measured beside it."""
    cpu = med(ours, "side_cpu_us") / max(med(anchor, "side_cpu_us"), 1e-9)
    own_o, own_a = med(ours, "backend_cpu_us"), med(anchor, "backend_cpu_us")
    dom0_o, dom0_a = med(ours, "side_cpu_us"), med(anchor, "side_cpu_us")
    text = ("dom0 CPU per request ours %.2fx the kernel's (the backend's own threads: %.0f%% of "
            "dom0's for blkbackd, %.0f%% for xen-blkback's kthreads, the rest irq, loop and the "
            "bench); notifications per blkif request ours %.2f (to the guest %.2f, to the "
            "backend %.2f), the kernel's %.2f (%.2f, %.2f)" % (
                cpu, 100 * own_o / max(dom0_o, 1e-9), 100 * own_a / max(dom0_a, 1e-9),
                med(ours, "notify_per_req", False), med(ours, "notify_to_guest_per_req", False),
                med(ours, "notify_to_backend_per_req", False),
                med(anchor, "notify_per_req", False), med(anchor, "notify_to_guest_per_req", False),
                med(anchor, "notify_to_backend_per_req", False)))
    maps, copies = med(ours, "daemon_grant_maps_per_req", False), med(ours, "daemon_grant_copies_per_req", False)
    calls = med(ours, "daemon_grant_copy_calls_per_req", False)
    if maps > 0.01 or copies > 0.01:
        text += ("; blkbackd mapped %.2f and copied %.2f grants per request%s (persistent grants "
                 "map none in steady state; a copy is an indirect descriptor page)" % (
                     maps, copies, "" if calls != calls else " in %.2f grant copy calls" % calls))
    sw_o, sw_a = med(ours, "backend_switches_per_req", False), med(anchor, "backend_switches_per_req", False)
    sys_o = [s for s in ours if s.get("backend_sys_ticks") is not None and s["backend_ticks"] > 0]
    if sw_o == sw_o and sw_a == sw_a and sys_o:
        share = sum(s["backend_sys_ticks"] for s in sys_o) / sum(s["backend_ticks"] for s in sys_o)
        text += ("; context switches per request: blkbackd's threads %.2f, xen-blkback's kthreads "
                 "%.2f; %.0f%% of blkbackd's CPU was in dom0's kernel (system calls: in a PV dom0 "
                 "each one enters the hypervisor both ways)" % (sw_o, sw_a, 100 * share))
    if metric == "p50":
        text += "; at QD1 every request is one round trip, so the gap is dom0's time per request"
    return text


def profile_text(p):
    """One side's dom0 profile (xen_samples.py): where dom0's samples went, by thread, by
    system call and by function, as shares of all its samples (idle apart)."""
    threads = sorted(p["threads"], reverse=True)
    idle = sum(pct for pct, comm in threads if comm == "swapper")
    text = "%d samples, idle %.0f%%, %s" % (p["samples"], idle, ", ".join(
        "%s %.0f%%" % (comm, pct) for pct, comm in threads if comm != "swapper"))
    calls = ["%.0f%% %s (%s)" % (pct, call, comm)
             for pct, comm, call in sorted(p["calls"], reverse=True)
             if comm not in ("swapper", "bench") and call != "-"]
    if calls:
        text += "; in system calls: " + ", ".join(calls[:6])
    top = ["%.0f%% %s (%s%s)" % (pct, fn, comm, "" if call == "-" else ", " + call)
           for pct, comm, fn, call in sorted(p["dom0_top"], reverse=True)
           if comm not in ("swapper", "bench")]
    return text + "; functions: " + (", ".join(top[:6]) or "none at 1.5 %")


def profile_note(profiles):
    """The profiles of a row's two sides as a clause of its why-line."""
    if not profiles.get("ours") or not profiles.get("anchor"):
        return ""
    return ("; dom0's profile (perf in dom0, cpu-clock, one more sample each, shares of all dom0 "
            "samples; in a PV kernel time with interrupts off counts where they come back on): "
            "blkbackd's disk: %s; the kernel's (%s): %s" % (
                profile_text(profiles["ours"]), profiles["anchor"]["backend"],
                profile_text(profiles["anchor"])))


def report(groups, profiles=None):
    """From report.py's samples grouped by (row, side, qd), and dom0's profiles by row and side
    (xen_samples.py): (ratios, table text, why lines)."""
    sides = {}
    for (row, side, _qd), samples in groups.items():
        if row.startswith("xen-"):
            sides.setdefault(row, {})[side] = samples
    ratios, lines, whys = {}, [], []
    for name, (what, metric) in ROWS.items():
        for suffix, ours_what, anchor_what in ENGINES:
            row = sides.get(name + suffix, {})
            o, a = row.get("ours"), row.get("anchor")
            if not o or not a:
                continue
            r = ratio_of(metric, o, a)
            lo, hi = per_round(metric, o, a)
            ratios[name + suffix] = r
            lines.append("| `%s` | %s, %s | xen-blkback, %s | **%.2f** | %.2f–%.2f | %d / %d | %.2f |"
                         " %.2f / %.2f |" % (
                             name + suffix, what, ours_what, anchor_what, r, lo, hi, len(o), len(a),
                             med(o, "side_cpu_us") / max(med(a, "side_cpu_us"), 1e-9),
                             med(o, "notify_per_req", False), med(a, "notify_per_req", False)))
            if r < GOAL:
                whys.append("bench: %s %.3f is below its goal %.1f: %s%s" % (
                    name + suffix, r, GOAL, why(name, metric, o, a),
                    profile_note((profiles or {}).get(name + suffix, {}))))
    if not lines:
        return ratios, "", whys
    every = [s for row in sides.values() for side in row.values() for s in side]
    table = ("\nReal Xen, %d rounds of %.0f s samples per disk and job (tests/xen/run.sh bench: "
             "Debian 13's Xen 4.20 and Linux 6.12 under QEMU's " % (
                 max(s["round"] for s in every), statistics.median(s["runtime_s"] for s in every)) +
             "full emulation, no KVM; dom0 and the stock guest one vCPU each; fio 3.33 in the "
             "guest, io_uring, O_DIRECT): blkbackd and the kernel's xen-blkback serve disks of "
             "the same bytes on the same tmpfs in dom0 to the same guest in the same boot, "
             "measured in turns. Emulation makes absolute numbers meaningless, so only ratios "
             "are shown (ours against the kernel's; for latency and notifications the kernel's "
             "divided by ours; higher is better, goal 1.0). The plain row name is the file: "
             "engine's; `/uring` and `/mem` are the other engines.\n\n"
             "| row | ours | anchor | ratio (of medians) | per round min–max | samples ours / kernel "
             "| dom0 CPU per request, ours / kernel's | notifications per request ours / kernel's |\n"
             "|---|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n")
    return ratios, table, whys
