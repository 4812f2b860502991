#!/usr/bin/env bash
# make bench: blkbackd's data path in the simulator against an anchor measured by this same
# script on this machine, row by row (docs/performance.md says how to read the results).
#
# Each row runs BENCH_RUNS samples of ours and of the anchor, alternating (ours, anchor, ours,
# ...), each BENCH_RUNTIME seconds, on disks written in full first. Every sample is one JSON
# line in $BENCH_OUT/samples.jsonl; tests/bench/report.py turns them into medians with their
# spread, one `ratio NAME VALUE` line per row, results.json, SVG plots (gnuplot) and the table
# in docs/performance.md. Numbers, not verdicts: nothing here passes or fails on speed.
#
#   BENCH_RUNTIME (5) seconds per sample; BENCH_RUNS (5) samples per side and row;
#   BENCH_SIZE (1G) each disk; BENCH_DIR (.cache/bench) where the disk-backed file lives
#   (it must take O_DIRECT); BENCH_OUT (build/bench) the results; BENCH_ROWS (all) a
#   space-separated subset of the row names; BENCH_DOCS (1) 0 leaves docs/ alone;
#   BENCH_DAEMON_OPTS blkbackd options for every row (e.g. --poll-us 0 to compare).
#   The real-Xen rows (BENCH_ROWS name "xen": tests/bench/xen.sh, a boot of Xen 4.20 under
#   QEMU) run where qemu-system-x86_64 is; BENCH_XEN=0 skips them, BENCH_XEN_RUNS (3) and
#   BENCH_XEN_RUNTIME (4) set their rounds and seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../helpers.sh"
source "$here/../sim/lib.sh"
source "$here/../sim/lib-blkback.sh"
source "$here/../sim/lib-nbd.sh"
runtime=${BENCH_RUNTIME:-5} runs=${BENCH_RUNS:-5} size=${BENCH_SIZE:-1G}
bdir=${BENCH_DIR:-$REPO/.cache/bench} out=${BENCH_OUT:-$REPO/build/bench}
ALL_ROWS="mem-4k-randread-qd32 mem-4k-randwrite-qd32 mem-4k-randread-qd1 mem-huge-4k-randread-qd32
uring-4k-randread-qd32
uring-1m-seqread file-4k-randread-qd32 mq-4k-randread-qd32 nbd-4k-randread-qd32 rbd-4k-randread-qd32
grant-modes qd-sweep
idle-wakeups limit-accuracy fair-qd1-p99 xen"
IDLE_S=${BENCH_IDLE_S:-10}          # idle-wakeups: seconds of watching an idle disk
LIMIT_IOPS=5000                     # limit-accuracy: the disk's iops= limit
rows=${BENCH_ROWS:-$ALL_ROWS}

for tool in fio gnuplot nbdkit; do
	command -v $tool >/dev/null && continue
	pkg=$tool; [ $tool = gnuplot ] && pkg=gnuplot-nox
	[ "$(id -u)" -eq 0 ] || { echo "bench: needs $tool: sudo apt-get install $pkg" >&2; exit 1; }
	echo "bench: installing $pkg (apt-get install $pkg)"
	apt-get install -y -qq --no-install-recommends $pkg >/dev/null
done
# perf, for the daemon's profiles: without it (or not root) they are left out, saying so
if ! command -v perf >/dev/null && [ "$(id -u)" -eq 0 ] && [ "${BENCH_PROFILE:-1}" != 0 ]; then
	echo "bench: installing linux-perf (apt-get install linux-perf)"
	apt-get install -y -qq --no-install-recommends linux-perf >/dev/null ||
		echo "bench: linux-perf did not install: no daemon profiles"
fi

mkdir -p "$bdir" "$out"
: > "$out/samples.jsonl"
: > "$out/profiles.jsonl"

# Describe this machine as JSON: CPU model, cores, kernel, virtualised or not.
machine_json() {
	local model virt
	model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
	virt=$(systemd-detect-virt 2>/dev/null || true)
	if [ -z "$virt" ] || [ "$virt" = none ]; then
		grep -qw hypervisor /proc/cpuinfo && virt="yes (the CPU reports a hypervisor)" || virt=no
	fi
	python3 -c 'import json, sys; print(json.dumps(dict(zip(
		["cpu", "cores", "kernel", "virtualised", "fio", "runtime_s", "runs", "size"], sys.argv[1:]))))' \
		"${model:-unknown}" "$(nproc)" "$(uname -r)" "$virt" "$(fio --version)" "$runtime" "$runs" "$size"
}

# Print the CPU time (user + system, in clock ticks) process $1 has used, all its threads.
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# The rows with a server of their own (nbdkit, the Ceph daemons) name its pids here: each
# sample then also counts the server's CPU time, which neither side's own CPU includes.
SERVER_PIDS=
# Print the CPU ticks the server processes have used so far (0 without a server).
server_ticks() {
	local p t=0
	for p in $SERVER_PIDS; do t=$((t + $(proc_ticks "$p" 2>/dev/null || echo 0))); done
	echo $t
}

# Add to sample JSON $1 the server's CPU time from ticks $2 to $3, in µs, and the machine's
# load average now (the machine may be shared: a busy one slows both sides, not alike).
sample_extra() {
	python3 -c 'import json, os, sys
r = json.loads(sys.argv[1])
if sys.argv[4]:
    r["server_cpu_us"] = (int(sys.argv[3]) - int(sys.argv[2])) * 1e6 / os.sysconf("SC_CLK_TCK")
r["load1"] = float(open("/proc/loadavg").read().split()[0])
print(json.dumps(r))' "$1" "$2" "$3" "$SERVER_PIDS"
}

# Append one sample: row $1, side $2 (ours|anchor), queue depth $3, result JSON $4.
record() {
	python3 -c 'import json, sys
r = json.loads(sys.argv[4]); r.update(row=sys.argv[1], side=sys.argv[2], qd=int(sys.argv[3]))
print(json.dumps(r))' "$@" >> "$out/samples.jsonl"
}

# One sample of ours: blkfront bench in guest1 on xvdb (args $3...), with blkbackd's CPU time
# over the run; recorded as row $1, queue depth $2, side SIDE (ours).
ours() {
	local row=$1 qd=$2 t0 t1 s0 s1 m0 m1 sim json
	shift 2
	sim=$(cat "$XENSIM_DIR/xensim.pid" 2>/dev/null)
	s0=$(server_ticks)
	t0=$(proc_ticks "$BK_PID") m0=$(proc_ticks "${sim:-0}" 2>/dev/null || echo 0)
	json=$(fe guest1 bench xvdb --iodepth "$qd" --runtime "$runtime" --json "$@")
	t1=$(proc_ticks "$BK_PID") m1=$(proc_ticks "${sim:-0}" 2>/dev/null || echo 0)
	s1=$(server_ticks)
	# the simulator's CPU (xensim stands in for the hypervisor): shown, not counted as ours
	json=$(python3 -c 'import json, os, sys
r = json.loads(sys.argv[1]); hz = os.sysconf("SC_CLK_TCK")
d = (int(sys.argv[3]) - int(sys.argv[2])) * 1e6 / hz
r["daemon_cpu_us"] = d; r["side_cpu_us"] = d + r["cpu_us"]
r["sim_cpu_us"] = (int(sys.argv[5]) - int(sys.argv[4])) * 1e6 / hz
print(json.dumps(r))' "$json" "$t0" "$t1" "$m0" "$m1")
	record "$row" "${SIDE:-ours}" "$qd" "$(sample_extra "$json" "$s0" "$s1")"
}

# One sample of the anchor: fio (args $4...) at depth $3 per job, its read or write side as
# JSON with blkfront bench's names; recorded as row $1, queue depth $2 (the row's).
anchor() {
	local row=$1 qd=$2 s0 s1 json
	shift 2
	s0=$(server_ticks)
	json=$(python3 "$here/fio-sample.py" --name=anchor --iodepth="$1" --runtime="$runtime" \
		--time_based --group_reporting "${@:2}")
	s1=$(server_ticks)
	record "$row" anchor "$qd" "$(sample_extra "$json" "$s0" "$s1")"
}

# Fill file $1 ($size bytes) with random data, unless it already holds that much of it.
fill_file() {
	[ -f "$1" ] && [ "$(stat -c %s "$1")" -eq "$(numfmt --from=iec "$size")" ] &&
		[ "$(stat -c %b "$1")" -ge $(($(numfmt --from=iec "$size") / 512)) ] && return 0
	echo "bench: writing $size of random data to $1"
	head -c "$(numfmt --from=iec "$size")" /dev/urandom > "$1.tmp" && mv "$1.tmp" "$1"
}

# Start blkbackd (options $2...) and attach disk spec $1 to guest1 as xvdb; a mem disk is
# written in full first (a real disk has data).
disk_up() {
	local spec=$1
	shift
	bk_start ${BENCH_DAEMON_OPTS:-} "$@"
	bk_ctl attach guest1 "$spec" --vdev xvdb --nowait >/dev/null
	case $spec in
	mem:* | nbd:* | rbd:*)
		head -c "$(numfmt --from=iec "${DISK_SIZE:-$size}")" /dev/urandom | fe guest1 write xvdb 0 >/dev/null ;;
	esac
}

# Detach xvdb and stop blkbackd.
disk_down() { bk_ctl detach guest1 xvdb >/dev/null; bk_stop; }

# Run row $1: BENCH_RUNS samples each of ours (blkfront bench options in OURS) and the
# anchor (fio options in ANCHOR), alternating, at queue depth $2 (the anchor's per job: $3).
row() {
	local name=$1 qd=$2 aqd=${3:-$2} i
	echo "bench: $name: $runs x ${runtime}s each side"
	for ((i = 0; i < runs; i++)); do
		ours "$name" "$qd" "${OURS[@]}"
		anchor "$name" "$qd" "$aqd" "${ANCHOR[@]}"
	done
	profile "$name" "$qd" "${OURS[@]}"
}

# Where may perf look: empty, or why not (BENCH_PROFILE=0, no perf, not allowed).
profile_why=
if [ "${BENCH_PROFILE:-1}" = 0 ]; then
	profile_why="BENCH_PROFILE=0"
elif ! command -v perf >/dev/null; then
	profile_why="no perf here (apt-get install linux-perf)"
elif ! perf record -q -a -o /dev/null -- true >/dev/null 2>&1; then
	profile_why="perf may not record here (kernel.perf_event_paranoid: $(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null))"
fi
[ -z "$profile_why" ] || echo "bench: no daemon profiles: $profile_why"

# One more sample of ours for row $1 (depth $2, blkfront bench options $3...), with perf
# sampling the daemon's threads meanwhile; the symbols with 2 % or more of its samples go
# to $out/profiles.jsonl for the why-line of a row below its goal. Not a measured sample.
profile() {
	local name=$1 qd=$2 data=$out/perf.data
	shift 2
	[ -z "$profile_why" ] || return 0
	# every CPU, then the daemon's samples: its ring threads start when the frontend connects
	perf record -q -a -F 999 -o "$data" -- sleep "$runtime" >/dev/null 2>&1 &
	local pp=$!
	fe guest1 bench xvdb --iodepth "$qd" --runtime "$runtime" --json "$@" >/dev/null
	wait "$pp" || { echo "bench: $name: perf record failed: no profile"; return 0; }
	perf report -q -i "$data" --pid "$BK_PID" --percentage relative --stdio --sort sym --percent-limit 2 2>/dev/null |
		python3 -c 'import json, re, sys
top = []
for line in sys.stdin:
    m = re.match(r"\s*([0-9.]+)%\s+\[(.)\]\s+(\S+)", line)
    if m:
        top.append([float(m.group(1)), ("kernel " if m.group(2) == "k" else "") + m.group(3)])
print(json.dumps({"row": sys.argv[1], "daemon_top": top}))' "$name" >> "$out/profiles.jsonl"
	rm -f "$data"
}

# The wake-ups of xvdb's ring threads so far (blkbackctl stats).
ring_wakeups() {
	bk_ctl stats guest1 xvdb --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["wakeups"])'
}

want() { [[ " $(echo $rows) " == *" $1 "* ]]; }

echo "bench: machine: $(machine_json)"
machine_json > "$out/machine.json"
tmpf=$(mktemp /dev/shm/blkbackd-bench.XXXXXX)
cleanup_add "rm -f '$tmpf'"
fill_file "$tmpf"
diskf=$bdir/disk.img
if want uring-4k-randread-qd32 || want uring-1m-seqread || want file-4k-randread-qd32; then
	fill_file "$diskf"
fi

sim_start
xensim create guest1 >/dev/null

# The mem rows: the mem engine, persistent grants, against fio's io_uring on a tmpfs file.
# Buffered (direct=0): tmpfs takes O_DIRECT only from Linux 6.6 on, and Debian 12 runs 6.1;
# on tmpfs a buffered read is the same memory copy.
MEM_FIO=(--filename="$tmpf" --size="$size" --ioengine=io_uring --direct=0 --invalidate=0 --bs=4k)
if want mem-4k-randread-qd32 || want mem-4k-randwrite-qd32 || want mem-4k-randread-qd1 ||
	want qd-sweep || want idle-wakeups; then
	disk_up "mem:size=$size"
	if want mem-4k-randread-qd32; then
		OURS=(--rw randread --bs 4k --indirect-segs 0) ANCHOR=("${MEM_FIO[@]}" --rw=randread)
		row mem-4k-randread-qd32 32
	fi
	if want mem-4k-randwrite-qd32; then
		OURS=(--rw randwrite --bs 4k --indirect-segs 0) ANCHOR=("${MEM_FIO[@]}" --rw=randwrite)
		row mem-4k-randwrite-qd32 32
	fi
	if want mem-4k-randread-qd1; then
		OURS=(--rw randread --bs 4k --indirect-segs 0) ANCHOR=("${MEM_FIO[@]}" --rw=randread)
		row mem-4k-randread-qd1 1
		# the same against fio's pread: io_uring hands each read of a tmpfs file to an
		# io-wq worker (tmpfs refuses RWF_NOWAIT), a wake-up the row's anchor pays
		ANCHOR=("${MEM_FIO[@]/--ioengine=io_uring/--ioengine=psync}" --rw=randread)
		row mem-4k-randread-qd1/psync 1
	fi
	if want qd-sweep; then
		# IOPS against queue depth for the plot: fewer, shorter samples
		saved=$runs runs=${BENCH_SWEEP_RUNS:-3}
		for qd in 1 2 4 8 16 32; do
			OURS=(--rw randread --bs 4k --indirect-segs 0) ANCHOR=("${MEM_FIO[@]}" --rw=randread)
			row qd-sweep "$qd"
		done
		runs=$saved
	fi
	if want idle-wakeups; then
		# an idle disk, after all that I/O: how often do its ring threads wake?
		echo "bench: idle-wakeups: ${IDLE_S}s with nothing to do"
		w0=$(ring_wakeups)
		sleep "$IDLE_S"
		record idle-wakeups ours 0 "{\"wakeups\": $(($(ring_wakeups) - w0)), \"seconds\": $IDLE_S}"
	fi
	disk_down
fi

# The same reads from a ramdisk on transparent huge pages (mem:...,huge), where the kernel
# gives them; the anchor's tmpfs file takes huge pages only with huge= at mount, so it stays.
if want mem-huge-4k-randread-qd32; then
	if grep -qE '\[(always|madvise)\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
		disk_up "mem:size=$size,huge"
		OURS=(--rw randread --bs 4k --indirect-segs 0) ANCHOR=("${MEM_FIO[@]}" --rw=randread)
		row mem-huge-4k-randread-qd32 32
		disk_down
	else
		echo "bench: mem-huge-4k-randread-qd32: not run: this kernel gives no transparent huge pages ($(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo 'no THP'))"
	fi
fi

# The uring rows: O_DIRECT on a file on disk, against fio's io_uring, O_DIRECT, same file.
if want uring-4k-randread-qd32; then
	disk_up "uring:$diskf,direct"
	OURS=(--rw randread --bs 4k --indirect-segs 0)
	ANCHOR=(--filename="$diskf" --ioengine=io_uring --direct=1 --bs=4k --rw=randread)
	row uring-4k-randread-qd32 32
	disk_down
fi
if want uring-1m-seqread; then
	# 1 MiB requests are indirect (256 segments): 3 such slots fit in gntalloc's 1024 pages
	disk_up "uring:$diskf,direct"
	OURS=(--rw read --bs 1M --indirect-segs 256)
	ANCHOR=(--filename="$diskf" --ioengine=io_uring --direct=1 --bs=1M --rw=read)
	row uring-1m-seqread 3
	disk_down
fi

# The file row: the file engine (buffered, the file in the page cache) against fio psync with
# as many threads as read for us. A read the page cache holds is served on its queue's ring
# thread (only one that would block goes to the queue's workers), so that is one thread per
# queue: one queue per core, as Linux blkfront has for a guest with that many vCPUs, and fio
# one job per core; the total depth is the same (32 in all for ours, psync is 1 per job).
if want file-4k-randread-qd32; then
	ncpu=$(nproc)
	disk_up "file:$diskf"
	cat "$diskf" > /dev/null
	OURS=(--rw randread --bs 4k --indirect-segs 0 --queues "$ncpu")
	ANCHOR=(--filename="$diskf" --ioengine=psync --direct=0 --invalidate=0 --bs=4k --rw=randread
		--numjobs="$ncpu")
	row file-4k-randread-qd32 32 1
	disk_down
fi

# Multi-queue: one queue per core (blkfront drives them all from one thread), against fio
# with one job per core and the same total depth.
if want mq-4k-randread-qd32; then
	ncpu=$(nproc)
	disk_up "mem:size=$size"
	OURS=(--rw randread --bs 4k --indirect-segs 0 --queues "$ncpu")
	ANCHOR=("${MEM_FIO[@]}" --rw=randread --numjobs="$ncpu")
	row mq-4k-randread-qd32 32 $((32 / ncpu))
	disk_down
fi

# The nbd row: the nbd engine against fio's own nbd engine (libnbd too), the same nbdkit memory
# export on a Unix socket, written in full first.
if want nbd-4k-randread-qd32; then
	nbd_setup
	nbd_server bench memory "$size"
	disk_up "nbd:$(nbd_uri bench)"
	OURS=(--rw randread --bs 4k --indirect-segs 0)
	ANCHOR=(--ioengine=nbd --uri="$(nbd_uri bench)" --size="$size" --bs=4k --rw=randread)
	SERVER_PIDS=$(nbd_pid bench)
	row nbd-4k-randread-qd32 32
	SERVER_PIDS=
	disk_down
	nbd_stop bench
fi

# The rbd row: the rbd engine against fio's own rbd engine (librbd too), the same image of a
# fresh single-node cluster (tests/lib-ceph.sh: one mon, one memstore OSD, on 127.0.0.1, in a
# directory of its own under BENCH_DIR, removed at exit),
# written in full first; RBD_SIZE (256M), as the OSD holds about three times what is written.
if want rbd-4k-randread-qd32; then
	export BLKBACKD_ENGINE_DIR=$BUILD/engines
	source "$here/../lib-ceph.sh"
	# A directory of this run's own: the monitor will not make its map over a last run's
	cdir=$(mktemp -d "$bdir/ceph.XXXXXX") || fail "mktemp in $bdir failed"
	cleanup_add "rm -rf '$cdir'"
	ceph_start "$cdir"
	rbd_size=${RBD_SIZE:-256M}
	rbdc create --size "$(($(numfmt --from=iec "$rbd_size") / 1048576))" rbd/bench
	DISK_SIZE=$rbd_size disk_up "rbd:rbd/bench,mon_host=$CEPH_MON_HOST"
	OURS=(--rw randread --bs 4k --indirect-segs 0)
	ANCHOR=(--ioengine=rbd --clientname=admin --pool=rbd --rbdname=bench --size="$rbd_size"
		--bs=4k --rw=randread)
	export CEPH_CONF    # fio's rbd engine reads the cluster from it
	SERVER_PIDS=$(cat "$CEPH_DIR"/run/*.pid)
	row rbd-4k-randread-qd32 32
	SERVER_PIDS=
	disk_down
	ceph_stop
fi

# limit-accuracy: a mem disk limited to LIMIT_IOPS with the default burst (a tenth of a
# second: it absorbs a stall of either side of up to 100 ms), set live once the disk is
# written so that the fill is not throttled; blkfront bench at QD32 asking for more: the IOPS
# it measures against the limit, its anchor. Samples of at least 10 s: the bucket, full at
# the start of each, adds at most 500 requests (1 %).
if want limit-accuracy; then
	DISK_SIZE=64M disk_up "mem:size=64M"
	bk_ctl limit guest1 xvdb iops=$LIMIT_IOPS >/dev/null
	saved=$runtime runtime=$((runtime > 10 ? runtime : 10))
	echo "bench: limit-accuracy: $runs x ${runtime}s at iops=$LIMIT_IOPS"
	for ((i = 0; i < runs; i++)); do
		ours limit-accuracy 32 --rw randread --bs 4k --indirect-segs 0
	done
	runtime=$saved
	record limit-accuracy limit 0 "{\"iops\": $LIMIT_IOPS, \"burst\": $(bk_stat guest1 xvdb iops_burst), \"throttled\": $(bk_stat guest1 xvdb throttled)}"
	disk_down
fi

# Grant modes, for the table only (the anchor is the persistent row above).
if want grant-modes; then
	for mode in map copy; do
		disk_up "mem:size=$size" --grant-mode=$mode
		echo "bench: grant-mode-$mode: $runs x ${runtime}s"
		for ((i = 0; i < runs; i++)); do
			ours "grant-mode-$mode" 32 --rw randread --bs 4k --indirect-segs 0
		done
		disk_down
	done
fi

# Fairness: a quiet disk's QD1 p99 latency alone (the anchor) and with a noisy neighbour, a
# disk of another domain on the same daemon reading at QD128 (ours); no limits set. Both
# are mem disks of BENCH_FAIR_SIZE (256M), written in full first; the quiet one's samples
# alternate, alone and beside the neighbour. The CPU per request counts the whole daemon
# (the neighbour's work too) over the quiet disk's requests.
if want fair-qd1-p99; then
	fsize=${BENCH_FAIR_SIZE:-256M}
	xensim create guest2 >/dev/null
	DISK_SIZE=$fsize disk_up "mem:size=$fsize"
	bk_ctl attach guest2 "mem:size=$fsize" --vdev xvdb --nowait >/dev/null
	head -c "$(numfmt --from=iec "$fsize")" /dev/urandom | fe guest2 write xvdb 0 >/dev/null
	noisy_reads() { bk_stat guest2 xvdb rd_req; }
	noisy_busy() { [ "$(noisy_reads)" -gt "$n0" ]; }
	echo "bench: fair-qd1-p99: $runs x ${runtime}s alone and beside a QD128 neighbour"
	for ((i = 0; i < runs; i++)); do
		QUIET=(--rw randread --bs 4k --indirect-segs 0)
		SIDE=anchor ours fair-qd1-p99 1 "${QUIET[@]}"
		n0=$(noisy_reads)
		fe_bg "$out/noisy.log" guest2 bench xvdb --rw randread --bs 4k --indirect-segs 0 \
			--iodepth 128 --slots 128 --runtime $((runtime + 5))
		noisy=$FE_PID
		wait_for 20 noisy_busy || fail "fair-qd1-p99: the noisy neighbour does not run"
		ours fair-qd1-p99 1 "${QUIET[@]}"
		kill -0 "$noisy" 2>/dev/null ||
			echo "bench: fair-qd1-p99: the neighbour ended before the quiet disk's sample"
		wait "$noisy" || fail "fair-qd1-p99: the noisy neighbour failed: $(tail -n 3 "$out/noisy.log")"
	done
	bk_ctl detach guest2 xvdb >/dev/null
	disk_down
fi

# The real-Xen rows: blkbackd against the kernel's xen-blkback in one emulated boot (xen.sh).
if want xen; then
	"$here/xen.sh" "$out"
fi

python3 "$here/report.py" "$out" $( [ "${BENCH_DOCS:-1}" = 1 ] && echo "$REPO/docs")
