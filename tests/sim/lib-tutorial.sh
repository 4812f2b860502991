# Runs a part of a document as written and checks that it prints what the document shows:
# shared by tests/sim/tutorial.sh (docs/tutorial.md part 2, the README's simulator commands)
# and tests/sim/tutorial-storage.sh (docs/tutorial.md part 4). Sourced after
# tests/helpers.sh, never run.
#
# A part: every ```sh block between its two marker comments (`<!-- NAME walkthrough: ...
# -->` and `<!-- end of NAME walkthrough -->`) runs, in order, under `set -e`. A plain ```
# block right after an ```sh block is what that block prints (stdout and stderr, as on a
# terminal): it must match what this run printed, line by line. In a sample, a line `...`
# stands for one or more lines left out and a line ending in ` ...` for the rest of a line;
# the numbers that change from run to run are the ones VARY and VARY_COLUMNS below name, and
# only those. An ```sh block with no sample after it is not compared (the first one builds).
#
# What differs from a reader's shell, and only this: the build step is skipped (make check
# has built everything), `build/` becomes the build being tested (the ASan one in make
# check-sim), and XENSIM_DIR is a private directory, which the samples show as
# /run/user/1000/xensim (where xensim puts it for a user of uid 1000).
#
#   tutorial_setup            make $work (removed at exit); sanitizer reports go to files there
#   run_doc NAME DOC PART     run DOC's part PART (its marker NAME, or readme: the README's
#                             "Try it without a Xen host") in a fresh simulator; its outputs
#                             land in $work/NAME/, XENSIM_DIR is $work/NAME/xensim
#   compare_doc NAME DOC PART fail unless the samples match what run_doc printed
#   stop_leftovers            stop the blkbackd and xensim a part left running; idempotent
#   no_san_reports            fail if a sanitizer report was written
requires python3

tutorial_setup() {
	work=$(mktemp -d /tmp/tutorial.XXXXXX)
	export XENSIM_DIR
	cleanup_add "rm -rf '$work'"
	# blkbackd --daemon and the simulator talk to /dev/null: sanitizer reports go to files.
	export ASAN_OPTIONS=log_path=$work/san UBSAN_OPTIONS=log_path=$work/san
}

# Stop what a walkthrough left running in $XENSIM_DIR: blkbackd by its pidfile (waiting for
# it to exit), then xensim. Idempotent.
stop_leftovers() {
	local pid
	pid=$(cat "$XENSIM_DIR/blkbackd/vbd3.pid" 2>/dev/null)
	if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
		wait_for 20 eval "! kill -0 $pid 2>/dev/null" || echo "blkbackd $pid did not exit"
	fi
	"$BUILD/xensim" stop >/dev/null 2>&1
	return 0
}

PY=$(cat <<'PY'
import difflib, re, sys

# Per-run numbers in the samples: (where, pattern); each group of pattern is a number that
# may differ between the sample and the run. Nothing else may.
VARY = [
    ("blkbackd's log time", r"^(\d\d:\d\d:\d\d\.\d{3}) blkbackd "),
    ("the backend's queues: dom0's CPUs", r"^ring: .*; queues \d+ \(backend max (\d+)\)"),
    ("verify's time and speed", r"^pass \d+ (?:write|read ): .*, ([\d.]+) s, ([\d.]+) MiB/s"),
    ("bench's duration", r"^\w+: bs=\S+ iodepth=\d+ runtime=([\d.]+)s "),
    ("bench's request count", r"^  requests: (\d+) \((\d+) read, "),
    ("bench's speed", r"^  IOPS: (\d+), bandwidth: ([\d.]+) MiB/s"),
    ("bench's latencies", r"^  latency \(us\): p50 ([\d.]+), p99 ([\d.]+), mean ([\d.]+), max ([\d.]+)"),
    ("bench's notifications", r"^  per request: .*, notifications ([\d.]+) "),
]
# Columns of `blkbackctl stats` and `xensim counters` that count the bench's requests or
# time them, or count notifications (how many requests one event carries varies).
VARY_COLUMNS = {"RD_REQ", "RD_SECT", "P50_US", "P99_US", "notifies"}
HEADERS = ("DOMAIN", "id")	# the first word of those tables' header lines

def vary(line):
    """The line with every per-run number replaced by <n>."""
    for _, pat in VARY:
        m = re.search(pat, line)
        if m:
            for g in range(len(m.groups()), 0, -1):
                line = line[:m.start(g)] + "<n>" + line[m.end(g):]
    return line

def run_lines(text):
    """(words, masked word indexes) for each line a run printed: table cells of the
    VARY_COLUMNS are masked, columns counted from the right as names may hold spaces."""
    out, header = [], None
    for line in text.splitlines():
        words = vary(line).split()
        if words and words[0] in HEADERS and VARY_COLUMNS & set(words):
            header, mask = words, set()
        elif header and words:
            mask = {len(words) - k for k in range(1, len(header) + 1)
                    if k <= len(words) and header[-k] in VARY_COLUMNS}
        else:
            header, mask = None, set()
        out.append((words, mask))
    return out

def line_ok(sample, run):
    words, mask = run
    cut = sample.endswith(" ...")
    want = vary(sample[:-4] if cut else sample).split()
    got = words[:len(want)] if cut else words
    if len(got) != len(want):
        return False
    return all(i in mask or w == g for i, (w, g) in enumerate(zip(want, got)))

def matches(sample, run):
    """Does the sample (lines, with ... elisions) match the run's lines?"""
    memo = {}
    def m(i, j):
        if (i, j) not in memo:
            if i == len(sample):
                r = j == len(run)
            elif sample[i] == "...":
                r = any(m(i + 1, k) for k in range(j + 1, len(run) + 1))
            else:
                r = j < len(run) and line_ok(sample[i], run[j]) and m(i + 1, j + 1)
            memo[(i, j)] = r
        return memo[(i, j)]
    return m(0, 0)

def blocks(text):
    """[(sh code, sample or None)] of the fenced blocks in text, in order."""
    out = []
    for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        if lang == "sh":
            out.append([body, None])
        elif out and out[-1][1] is None and lang == "":
            out[-1][1] = body
    return out

def script(blocks_, build, outdir):
    """The blocks as one bash script: block i prints into outdir/i, xtrace to stderr."""
    lines = ["set -e", "exec 9>&2", "BASH_XTRACEFD=9", "set -x"]
    for i, (code, _) in enumerate(blocks_):
        lines.append(f"exec >'{outdir}/{i}' 2>&1")
        for line in code.splitlines():
            if line.strip() != "make":
                lines.append(re.sub(r"(?<![\w/])build/", build + "/", line))
    return "\n".join(lines) + "\n"

def section(path, start, end):
    text = open(path).read()
    m = re.search(start + r"(.*?)" + end, text, re.S)
    if not m:
        sys.exit(f"{path}: cannot find the part this test runs ({start!r})")
    return m.group(1)

# Where the samples show the walkthrough's XENSIM_DIR: where xensim puts it for a reader
# whose uid is 1000 (in $XDG_RUNTIME_DIR); a run has a private one, shown so.
READER_DIR = "/run/user/1000/xensim"

def main():
    mode, doc, part_name, build, outdir, xensim_dir = sys.argv[1:7]
    if part_name != "readme":
        part = section(doc, rf"<!-- {part_name} walkthrough:.*?-->",
                       rf"<!-- end of {part_name} walkthrough -->")
    else:
        part = section(doc, r"\n## Try it without a Xen host\n", r"\n## ")
        part = part.replace("```\n", "```sh\n", 1)   # its first block is the commands
        part = part[:part.index("```", part.index("```sh") + 5) + 3]
    bl = blocks(part)
    if not bl:
        sys.exit(f"{doc}: no ```sh block in the part this test runs")
    if mode == "script":
        print(script(bl, build, outdir), end="")
        return
    bad = 0
    for i, (code, sample) in enumerate(bl):
        printed = open(f"{outdir}/{i}").read().replace(xensim_dir, READER_DIR)
        print(f"--- block {i + 1}:\n{code}--- printed:\n{printed}", end="")
        if sample is None:
            continue
        if not matches(sample.splitlines(), run_lines(printed)):
            bad += 1
            print(f"--- MISMATCH: {doc} shows instead:\n{sample}", end="")
            print("".join(difflib.unified_diff(
                [vary(l) + "\n" for l in sample.splitlines()],
                [vary(l) + "\n" for l in printed.splitlines()],
                "shown, per-run numbers as <n>", "printed", n=1)), end="")
    if bad:
        sys.exit(f"{bad} sample(s) in {doc} differ from what the run printed "
                 "(beyond the per-run numbers this test lets vary)")

main()
PY
)

# run_doc NAME DOC PART: run DOC's part in a fresh simulator; its outputs land in $work/NAME/.
run_doc() {
	local name=$1 doc=$2 part=$3
	mkdir -p "$work/$name"
	XENSIM_DIR=$work/$name/xensim
	python3 -c "$PY" script "$doc" "$part" "$BUILD" "$work/$name" "$XENSIM_DIR" \
		>"$work/$name.sh" || fail "cannot extract the commands of $doc"
	cat "$work/$name.sh"
	cleanup_add stop_leftovers
	bash "$work/$name.sh" || { cat "$work/$name"/[0-9]*; fail "$doc: a command failed"; }
}

# compare_doc NAME DOC PART: the samples of the part against what run_doc NAME printed.
compare_doc() {
	python3 -c "$PY" compare "$2" "$3" "$BUILD" "$work/$1" "$work/$1/xensim"
}

# Fail if blkbackd, xensim or a tool wrote a sanitizer report.
no_san_reports() {
	local f
	for f in "$work"/san.*; do
		[ -e "$f" ] || continue
		cat "$f"
		fail "sanitizer report: $f"
	done
}
