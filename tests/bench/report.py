#!/usr/bin/env python3
"""make bench's report: tests/bench/run.sh's samples into medians, ratios, JSON and plots.

Usage: report.py OUT [DOCS]. Reads OUT/samples.jsonl and OUT/machine.json; writes
OUT/results.json, OUT/iops-vs-qd.svg and OUT/latency-hist.svg (with gnuplot), prints the
table and one `ratio NAME VALUE` line per row. With DOCS, also copies the plots to
DOCS/perf/ and rewrites the table between the markers of DOCS/performance.md.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

import xen_report

# The rows with a ratio: name -> (what ours is, what the anchor is, metric).
# metric "iops": ours / anchor; "p50", "p99": the anchor's latency / ours (higher is better
# every way).
ROWS = {
    "mem-4k-randread-qd32": ("mem engine, persistent grants, xensim",
                             "fio io_uring, buffered, tmpfs file", "iops"),
    "mem-4k-randwrite-qd32": ("same, random writes", "fio same, writes", "iops"),
    "mem-4k-randread-qd1": ("same, QD1, p50 latency", "fio same, QD1 p50", "p50"),
    # no goal: the same row against fio's plain pread, which tmpfs serves on fio's own thread
    # (io_uring hands each tmpfs read to an io-wq worker: tmpfs refuses RWF_NOWAIT)
    "mem-4k-randread-qd1/psync": ("same, QD1, p50 latency",
                                  "fio psync (pread) on the same file, QD1 p50", "p50"),
    "mem-huge-4k-randread-qd32": ("mem engine on transparent huge pages (huge)",
                                  "fio io_uring, buffered, tmpfs file", "iops"),
    "uring-4k-randread-qd32": ("uring engine, O_DIRECT, file on disk",
                               "fio io_uring, O_DIRECT, same file", "iops"),
    "uring-1m-seqread": ("uring engine, 1 MiB reads (indirect), QD3", "fio same", "iops"),
    "file-4k-randread-qd32": ("file engine, page cache, one queue per core",
                              "fio psync, one job per core, same file", "iops"),
    "mq-4k-randread-qd32": ("mem, one queue per core, one frontend thread",
                            "fio, one job per core, same total depth", "iops"),
    "nbd-4k-randread-qd32": ("nbd engine, nbdkit memory export (Unix socket)",
                             "fio's nbd engine, same export", "iops"),
    "rbd-4k-randread-qd32": ("rbd engine, one-OSD memstore cluster on 127.0.0.1",
                             "fio's rbd engine, same image", "iops"),
    "fair-qd1-p99": ("a quiet mem disk, 4k randread QD1, p99 latency, beside a noisy "
                     "neighbour (another domain, same daemon, QD128, no limits)",
                     "the same quiet disk alone", "p99"),
}


def load(out):
    """The samples, grouped by (row, side, qd), and the machine."""
    groups = {}
    with open(os.path.join(out, "samples.jsonl")) as f:
        for line in f:
            if line.strip():
                s = json.loads(line)
                groups.setdefault((s["row"], s["side"], s["qd"]), []).append(s)
    with open(os.path.join(out, "machine.json")) as f:
        machine = json.load(f)
    return groups, machine


def spread(values):
    """Median, min and max of a list of numbers."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def summarize(samples):
    """A side of a row: IOPS, p50, CPU per request (and the daemon's, for ours)."""
    out = {
        "iops": spread([s["iops"] for s in samples]),
        "lat_p50_us": spread([s["lat_p50_us"] for s in samples]),
        "lat_p99_us": spread([s["lat_p99_us"] for s in samples]),
        "cpu_us_per_req": spread([s["side_cpu_us"] / max(s["requests"], 1) for s in samples]),
        "errors": sum(s.get("errors", 0) for s in samples),
    }
    if "daemon_cpu_us" in samples[0]:
        out["daemon_cpu_us_per_req"] = spread(
            [s["daemon_cpu_us"] / max(s["requests"], 1) for s in samples])
    if "sim_cpu_us" in samples[0]:
        out["sim_cpu_us_per_req"] = spread(
            [s["sim_cpu_us"] / max(s["requests"], 1) for s in samples])
    if "server_cpu_us" in samples[0]:
        out["server_cpu_us_per_req"] = spread(
            [s["server_cpu_us"] / max(s["requests"], 1) for s in samples])
    if "load1" in samples[0]:
        out["load1"] = spread([s["load1"] for s in samples])
    if samples[0].get("queues"):
        out["queues"] = samples[0]["queues"]
    for k in ("grant_maps_per_req", "grant_copies_per_req", "notify_per_req"):
        vals = [s[k] for s in samples if s.get(k) is not None]
        if vals:
            out[k] = statistics.median(vals)
    hist = []
    for s in samples:
        h = s.get("lat_log2_ns", [])
        hist += [0] * (len(h) - len(hist))
        for i, n in enumerate(h):
            hist[i] += n
    out["lat_log2_ns"] = hist
    return out


# The goals of the rows measured against an anchor (issue 19's table, and issue 18's for the
# rows with a server); a row below its goal says why, from what was measured (server_note,
# goal_note).
GOALS = {"mem-4k-randread-qd32": 1.5, "mem-4k-randwrite-qd32": 1.5, "mem-4k-randread-qd1": 1.0,
         "uring-4k-randread-qd32": 0.95, "uring-1m-seqread": 0.95, "file-4k-randread-qd32": 0.95,
         "mq-4k-randread-qd32": 1.0, "nbd-4k-randread-qd32": 0.9, "rbd-4k-randread-qd32": 0.9}


def cpu_split(o, a):
    """CPU per request: ours in the daemon, ours in the frontend, the anchor's (medians)."""
    d = o["daemon_cpu_us_per_req"]["median"]
    return d, o["cpu_us_per_req"]["median"] - d, a["cpu_us_per_req"]["median"]


def server_note(name, ratio, o, a, cores):
    """For a row with a server: the CPU per request of everything that serves it, each side,
    and, below its goal, why: the bound the CPU sets when all cores are busy."""
    if "server_cpu_us_per_req" not in o or "server_cpu_us_per_req" not in a:
        return None
    goal = GOALS[name]
    d, f, fio = cpu_split(o, a)
    so, sa = o["server_cpu_us_per_req"]["median"], a["server_cpu_us_per_req"]["median"]
    to, ta = d + f + so, fio + sa
    text = ("`%s`: CPU per request, ours %.1f µs (daemon %.1f, frontend %.1f, server %.1f), "
            "anchor %.1f µs (fio %.1f, server %.1f); load average during the samples %.1f–%.1f"
            % (name, to, d, f, so, ta, fio, sa,
               min(o["load1"]["min"], a["load1"]["min"]), max(o["load1"]["max"], a["load1"]["max"])))
    if ratio < goal:
        text += (". Below %.1f: with its %s cores busy, the machine would allow ours at most "
                 "%.2f of the anchor's IOPS (%.1f against %.1f µs of CPU per request, the "
                 "frontend's and the simulator's trip included); the ratio measured is %.2f"
                 % (goal, cores, ta / to, ta, to, ratio))
        if ratio > ta / to * 1.1 or ratio < ta / to * 0.9:
            text += (", which the CPU alone does not explain: waiting (one side idle while the "
                     "other works) or a machine shared with other work")
    return text


def goal_note(name, ratio, o, a, cores, metric):
    """For a row below its goal: where each side's time went, and which limit that shows:
    the daemon's ring thread (one thread per queue) at a whole core, all cores busy, or
    neither (the two sides waiting on each other)."""
    goal = GOALS.get(name)
    if goal is None or ratio >= goal:
        return None
    d, f, fio = cpu_split(o, a)
    iops = o["iops"]["median"]
    ud, uf = d * iops / 1e6, f * iops / 1e6
    sim = o.get("sim_cpu_us_per_req", {}).get("median", 0.0)
    us = sim * iops / 1e6
    text = ("`%s` is below its goal of %.2f (%.2f): CPU per request ours %.2f µs (daemon %.2f, "
            "frontend %.2f), anchor %.2f µs; at the measured IOPS the daemon kept %.2f of a core "
            "busy and the frontend %.2f" % (name, goal, ratio, d + f, d, f, fio, ud, uf))
    if sim:
        text += (", the simulator %.2f (%.2f µs per request: it stands in for the hypervisor's "
                 "grant and event channel calls)" % (us, sim))
    text += ", of %s cores" % cores
    if metric == "p50":
        return text + ("; p50 ours %.1f µs, anchor %.1f µs: at QD1 each request is a round trip "
                       "between the two sides" % (o["lat_p50_us"]["median"],
                                                  a["lat_p50_us"]["median"]))
    text += ("; with every core busy, the CPU per request would allow ours at most %.2f of the "
             "anchor" % (fio / (d + f)))
    queues = o.get("queues", 1)
    if ud / queues >= 0.75:
        text += ("; the limit is the daemon's ring thread, one per queue (%d), near a whole core "
                 "(the anchor spreads its work over its jobs)" % queues)
    elif ud + uf + us >= 0.85 * float(cores):
        text += "; the limit is that CPU: the cores were all busy"
    else:
        text += ("; and neither side was busy: they also wait: on each other (notifications and "
                 "wake-ups), on the storage, or on a machine shared with other work")
    return text


def fmt_spread(d, scale=1.0, prec=0):
    """'median (min-max)'."""
    f = "%%.%df" % prec
    return (f + " (" + f + "–" + f + ")") % (d["median"] / scale, d["min"] / scale,
                                                d["max"] / scale)


def gnuplot(script, path):
    """Run a gnuplot script that writes an SVG to path; False if gnuplot is missing."""
    if not shutil.which("gnuplot"):
        return False
    subprocess.run(["gnuplot"], input="set terminal svg size 720,420 dynamic font 'sans,11' noenhanced\n"
                   "set output '%s'\n%s" % (path, script), text=True, check=True)
    return True


def plot_sweep(results, out):
    """IOPS against queue depth, ours and the anchor, with the spread as error bars."""
    sweep = results.get("qd-sweep")
    if not sweep:
        return None
    data = os.path.join(out, "iops-vs-qd.dat")
    with open(data, "w") as f:
        for qd in sorted(sweep, key=int):
            o, a = sweep[qd]["ours"]["iops"], sweep[qd]["anchor"]["iops"]
            f.write("%s %f %f %f %f %f %f\n" % (qd, o["median"], o["min"], o["max"],
                                                 a["median"], a["min"], a["max"]))
    svg = os.path.join(out, "iops-vs-qd.svg")
    ok = gnuplot("""set title 'mem disk, 4 KiB random reads: IOPS against queue depth'
set xlabel 'queue depth'; set ylabel 'IOPS'; set logscale x 2; set key top left
set yrange [0:*]; set grid
plot '%s' using 1:2:3:4 with yerrorlines title 'blkbackd (xensim, blkfront bench)', \\
     '' using 1:5:6:7 with yerrorlines title 'fio io_uring on tmpfs'
""" % data, svg)
    return svg if ok else None


def plot_hist(results, out):
    """Latency histogram of the QD32 mem random-read row: share of requests per power of two."""
    row = results.get("mem-4k-randread-qd32")
    if not row:
        return None
    row = row["32"]
    data = os.path.join(out, "latency-hist.dat")
    o, a = row["ours"]["lat_log2_ns"], row["anchor"]["lat_log2_ns"]
    n = max(len(o), len(a))
    to, ta = max(sum(o), 1), max(sum(a), 1)
    with open(data, "w") as f:
        for k in range(n):
            f.write("%f %f %f\n" % (2 ** k * 1.5 / 1000.0, 100.0 * (o[k] if k < len(o) else 0) / to,
                                    100.0 * (a[k] if k < len(a) else 0) / ta))
    svg = os.path.join(out, "latency-hist.svg")
    ok = gnuplot("""set title 'mem disk, 4 KiB random reads, QD32: completion latency'
set xlabel 'latency (µs, power-of-two buckets)'; set ylabel '%% of requests'
set logscale x 2; set key top right; set grid; set yrange [0:*]
set style fill transparent solid 0.4
plot '%s' using 1:2 with histeps lw 2 title 'blkbackd', '' using 1:3 with histeps lw 2 title 'fio'
""" % data, svg)
    return svg if ok else None


def limit_accuracy(results, groups, ratios):
    """The limit-accuracy row: measured IOPS of a disk limited to N IOPS, over N; its text."""
    ours = results.get("limit-accuracy", {}).get("32", {}).get("ours")
    setting = groups.get(("limit-accuracy", "limit", 0))
    if not ours or not setting:
        return None
    want = setting[0]["iops"]
    ratio = ours["iops"]["median"] / want
    ratios["limit-accuracy"] = ratio
    off = 100.0 * abs(ratio - 1.0)
    print("limit-accuracy: %.0f IOPS measured against a limit of %d: %.2f %% %s (goal within "
          "5 %%: %s)" % (ours["iops"]["median"], want, off, "over" if ratio > 1 else "under",
                         "met" if off <= 5.0 else "NOT met"))
    return ("I/O limit (`limit-accuracy`): a mem disk limited to %d IOPS (`blkbackctl limit ... "
            "iops=%d`, burst %d), blkfront bench 4k randread at QD32: %s IOPS, ratio **%.3f** "
            "(%.2f %% %s the limit; goal within 5 %%), %d times a request waited for tokens; "
            "daemon CPU %.2f µs per request." % (want, want, setting[0].get("burst", 0),
                                                fmt_spread(ours["iops"]), ratio, off,
                                                "over" if ratio > 1 else "under",
                                                setting[0].get("throttled", 0),
                                                ours["daemon_cpu_us_per_req"]["median"]))


def load_profiles(out):
    """From profiles.jsonl: (row -> the daemon's busiest symbols ([percent, symbol], perf) from
    run.sh's profile(), row -> side -> dom0's profile in the real-Xen bench (xen_samples.py))."""
    path = os.path.join(out, "profiles.jsonl")
    prof, xen = {}, {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip():
                    p = json.loads(line)
                    if "dom0_top" in p:
                        xen.setdefault(p["row"], {})[p["side"]] = p
                    else:
                        prof[p["row"]] = p["daemon_top"]
    return prof, xen


def profile_note(top):
    """The daemon's profile as a clause of a why-line."""
    return ("; the daemon's profile (perf, one more sample of ours, symbols at 2 % or more of "
            "its samples): " + ", ".join("%.0f%% %s" % (pct, sym) for pct, sym in top[:8]))


def main():
    out = sys.argv[1]
    docs = sys.argv[2] if len(sys.argv) > 2 else None
    groups, machine = load(out)
    profiles, xen_profiles = load_profiles(out)
    results = {}
    for (row, side, qd), samples in groups.items():
        if row == "idle-wakeups" or side == "limit":
            continue
        results.setdefault(row, {}).setdefault(str(qd), {})[side] = summarize(samples)

    ratios = {}
    notes = []
    lines = ["| row | ours | anchor | ours (median, min–max) | anchor | ratio | CPU µs/req ours (daemon) | CPU µs/req anchor |",
             "|---|---|---|---|---|---|---|---|"]
    for name, (what, anchor_what, metric) in ROWS.items():
        if name not in results:
            continue
        qd, sides = next(iter(results[name].items()))
        o, a = sides.get("ours"), sides.get("anchor")
        if not o or not a:
            continue
        if metric in ("p50", "p99"):
            key = "lat_%s_us" % metric
            ratio = a[key]["median"] / o[key]["median"]
            ov, av = fmt_spread(o[key], prec=1) + " µs", fmt_spread(a[key], prec=1) + " µs"
        else:
            ratio = o["iops"]["median"] / a["iops"]["median"]
            ov, av = fmt_spread(o["iops"]) + " IOPS", fmt_spread(a["iops"]) + " IOPS"
        ratios[name] = ratio
        lines.append("| `%s` | %s | %s | %s | %s | **%.2f** | %.2f (%.2f) | %.2f |" % (
            name, what, anchor_what, ov, av, ratio, o["cpu_us_per_req"]["median"],
            o["daemon_cpu_us_per_req"]["median"], a["cpu_us_per_req"]["median"]))
        if o["errors"] or a["errors"]:
            print("bench: %s had I/O errors: ours %d, anchor %d" % (name, o["errors"], a["errors"]))
        note = server_note(name, ratio, o, a, machine["cores"])
        note = note or goal_note(name, ratio, o, a, machine["cores"], metric)
        if note and ratio < GOALS.get(name, 0) and profiles.get(name):
            note = note.rstrip(".") + profile_note(profiles[name])
        if note:
            notes.append(note)

    modes = []
    base = results.get("mem-4k-randread-qd32", {}).get("32", {}).get("ours")
    for mode, r in (("persistent", base),
                    ("map", results.get("grant-mode-map", {}).get("32", {}).get("ours")),
                    ("copy", results.get("grant-mode-copy", {}).get("32", {}).get("ours"))):
        if r:
            modes.append("| `--grant-mode=%s` | %s | %.0f | %.4f | %.2f | %.3f | %.2f |" % (
                mode, fmt_spread(r["iops"]), r["lat_p50_us"]["median"],
                r.get("grant_maps_per_req", float("nan")), r.get("grant_copies_per_req", float("nan")),
                r.get("notify_per_req", float("nan")), r["cpu_us_per_req"]["median"]))
    if modes:
        modes = ["| grant mode (mem, 4k randread, QD32) | IOPS (median, min–max) | p50 µs | grant maps/req | grant copies/req | notifications/req | CPU µs/req |",
                 "|---|---|---|---|---|---|---|"] + modes

    limit = limit_accuracy(results, groups, ratios)

    m = machine
    head = ("Machine: %s, %s cores, Linux %s, virtualised: %s; %s. Each side of a row: the median "
            "of %s samples of %s s, alternating with the other side, disks written in full "
            "first (%s each)." % (m["cpu"], m["cores"], m["kernel"], m["virtualised"], m["fio"],
                                 m["runs"], m["runtime_s"], m["size"]))
    table = head + "\n\n" + "\n".join(lines) + "\n"
    if notes:
        table += "\n" + "".join("- %s.\n" % n for n in notes)
    if modes:
        table += "\n" + "\n".join(modes) + "\n"
    if limit:
        table += "\n" + limit + "\n"
    xen_ratios, xen_table, xen_whys = xen_report.report(groups, xen_profiles)
    ratios.update(xen_ratios)
    table += xen_table
    if xen_whys:    # "bench: NAME RATIO is below its goal 1.0: WHY"
        table += "\n" + "".join("- `%s` %s.\n" % (w.split(" ", 2)[1], w.split(" ", 2)[2])
                                 for w in xen_whys)
    sweep_svg, hist_svg = plot_sweep(results, out), plot_hist(results, out)

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": machine, "ratios": ratios, "rows": results}, f, indent=1)
    print(table)
    for name, r in ratios.items():
        print("ratio %s %.3f" % (name, r))
    idle = groups.get(("idle-wakeups", "ours", 0))
    if idle:
        print("idle-wakeups %d (ring threads of an idle disk, %d s, after I/O; goal 0)"
              % (idle[0]["wakeups"], idle[0]["seconds"]))
        table += ("\nAn idle disk (after all the rows above, %d s with nothing to do): "
                  "its ring threads woke **%d** times.\n" % (idle[0]["seconds"], idle[0]["wakeups"]))
    for line in xen_whys:
        print(line)
    for name in ROWS:
        if name not in ratios:
            print("bench: row %s not measured (BENCH_ROWS)" % name)
    for name in xen_report.ROWS:
        if name not in ratios:
            print("bench: row %s not measured (BENCH_XEN=0, no QEMU, or the boot failed: above)" % name)
    print("bench: results in %s" % os.path.join(out, "results.json"))

    if docs:
        perf = os.path.join(docs, "perf")
        os.makedirs(perf, exist_ok=True)
        pics = ""
        for svg in (sweep_svg, hist_svg):
            if svg:
                shutil.copy(svg, perf)
                pics += "\n![%s](perf/%s)\n" % (os.path.basename(svg)[:-4].replace("-", " "),
                                                os.path.basename(svg))
        path = os.path.join(docs, "performance.md")
        text = open(path).read()
        new, n = re.subn(r"(<!-- bench table -->\n).*?(<!-- end of bench table -->)",
                         lambda mt: mt.group(1) + table + pics + mt.group(2), text, flags=re.S)
        if n != 1:
            sys.exit("docs/performance.md lacks the bench table markers")
        with open(path, "w") as f:
            f.write(new)
        print("bench: wrote %s" % path)


if __name__ == "__main__":
    main()
