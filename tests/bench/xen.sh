#!/usr/bin/env bash
# make bench's real-Xen rows: boot Debian 13's Xen 4.20 and Linux 6.12 under QEMU (full
# emulation) with the bench scenario (tests/xen/dom0-bench.sh), where one stock guest reads
# disks of the kernel's xen-blkback and of blkbackd on the same storage in turns, and add
# its samples to OUT/samples.jsonl and dom0's profiles to OUT/profiles.jsonl
# (tests/bench/xen_samples.py) for report.py.
#
#   tests/bench/xen.sh OUT
#
# BENCH_XEN=0 skips it (saying so), as does a machine without qemu-system-x86_64.
# BENCH_XEN_RUNS (3) rounds, BENCH_XEN_RUNTIME (4) seconds per sample; XEN_BENCH_DEB, if set,
# names the package dom0 runs blkbackd from (else BLKBACK_BUILD's). The console goes to
# OUT/xen-console.log. A boot that fails adds no sample and says why; it never stops the
# rest of the bench.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$here/../.." && pwd)
out=${1:?usage: xen.sh OUT}

if [ "${BENCH_XEN:-1}" = 0 ]; then
	echo "bench: the real-Xen rows are skipped: BENCH_XEN=0"
	exit 0
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
	echo "bench: the real-Xen rows are skipped: no qemu-system-x86_64 here (apt-get install qemu-system-x86)"
	exit 0
fi
export BLKBACK_BUILD=${BLKBACK_BUILD:-$REPO/build}
export XEN_BENCH_DOM0_ARGS="xb_runs=${BENCH_XEN_RUNS:-3} xb_runtime=${BENCH_XEN_RUNTIME:-4}"
export XEN_BENCH_TIMEOUT=${XEN_BENCH_TIMEOUT:-1800}
log=$out/xen-console.log
echo "bench: real-Xen rows: booting Xen 4.20 under QEMU, full emulation (ratios only);" \
	"${BENCH_XEN_RUNS:-3} rounds of ${BENCH_XEN_RUNTIME:-4} s samples; console in $log"
t0=$(date +%s)
"$REPO/tests/xen/run.sh" bench 4.20 2>&1 | tee "$log" |
	grep --line-buffered -E '^(PASS|FAIL|SKIP|note:|run\.sh:|[0-9]+ passed)' | sed -u 's/^/bench: xen: /'
rc=${PIPESTATUS[0]}
echo "bench: the Xen boot took $(($(date +%s) - t0)) s (exit $rc)"
[ "$rc" = 0 ] || echo "bench: the Xen bench boot failed (FAIL lines above, console in $log): its rows keep what it measured"
python3 "$here/xen_samples.py" "$log" "$out/profiles.jsonl" >> "$out/samples.jsonl"
