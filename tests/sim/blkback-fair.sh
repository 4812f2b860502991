#!/usr/bin/env bash
# Room in the grant budgets goes to the rings that wait for it in turn (blkback/grant-limit.c):
# a bystander keeping its ring full of requests cannot hold back a ring waiting for room
# beside it, with the rings' busy-poll window on (a polling ring never sleeps between
# bursts, so without the lines it re-takes the room its completions free before the
# waiting ring looks). Counted, not timed: while both stay full, until the waiting ring
# has completed WANT more requests or the bystanders RATIO * WANT, the bystanders complete
# at most RATIO requests per request of the waiting ring (plus SLACK).
#  - the domain's budget: the two disks of one guest;
#  - the daemon's budget: two bystander guests fill it, a third guest waits.
# File disks: their requests stay in flight (the file engine's workers), holding pages.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

RUNTIME=${FAIR_RUNTIME:-10}	# seconds each bench runs: a bound, never a pass condition
WANT=300			# the waiting ring's completions the count covers
RATIO=6				# queue depths 32 and 8, and room for a frontend that lags
SLACK=64

sim_start
for g in busy b1 b2 quiet; do xensim create "$g" >/dev/null || fail "cannot create $g"; done
# 1024 pages per guest (4 MiB), 1536 in all; the window on whatever the default is.
bk_start --poll-us 50 --grant-pages-domain 1024 --grant-pages 1536
for d in busy:xvdb busy:xvdc b1:xvdb b2:xvdb quiet:xvdb; do
	img=$XENSIM_DIR/${d/:/-}.img
	truncate -s 16M "$img"
	bk_ctl attach "${d%%:*}" "file:$img" --vdev "${d#*:}" --nowait
done

# 128 KiB reads (32 pages, one request's reservation is 256), mapped per sweep.
load() { fe_bg "$1" "$2" bench "$3" --rw randread --bs 128k --no-persistent --runtime "$RUNTIME" \
	--iodepth "$4" --slots "$4"; }
# Print the reads completed by disks $@ (GUEST:VDEV), in order, from one 'stats' call.
reads() {
	bk_ctl stats --json | python3 -c 'import json, sys
n = {r["domain"] + ":" + r["vdev"]: r["rd_req"] for r in json.load(sys.stdin)}
print(*(n[d] for d in sys.argv[1:]))' "$@"
}
# Have all of disks $@ completed reads? (Sets R to the counts.)
all_started() { R=($(reads "$@")); [[ " ${R[*]} " != *" 0 "* ]]; }
# Has the waiting ring (the last of $@) completed WANT more since W0, or the bystanders
# RATIO * WANT since B0, or has a bench ended?
enough() {
	local i b=0
	R=($(reads "$@"))
	for ((i = 0; i < ${#R[@]} - 1; i++)); do b=$((b + R[i])); done
	[ "${R[-1]}" -ge $((W0 + WANT)) ] || [ "$b" -ge $((B0 + RATIO * WANT)) ] ||
		! kill -0 "${PIDS[@]}" 2>/dev/null
}

# One case: bystander rings $2 (GUEST:VDEV ...) at depth 32, the waiting ring $3 at depth 8.
fair_case() {
	local name=$1 disks=($2 $3) d i b0=0 b1=0 w0 w1
	PIDS=()
	for d in "${disks[@]}"; do
		[ "$d" = "$3" ] && i=8 || i=32
		load "$XENSIM_DIR/${d/:/-}.log" "${d%%:*}" "${d#*:}" "$i"
		PIDS+=("$FE_PID")
	done
	wait_for $((RUNTIME + 10)) all_started "${disks[@]}" ||
		fail "$name: not every ring completed requests (${R[*]} for ${disks[*]})"
	W0=${R[-1]}
	for ((i = 0; i < ${#disks[@]} - 1; i++)); do b0=$((b0 + R[i])); done
	B0=$b0
	wait_for $((RUNTIME + 30)) enough "${disks[@]}"
	kill -0 "${PIDS[@]}" 2>/dev/null && alive=1 || alive=0
	w1=${R[-1]}
	for ((i = 0; i < ${#disks[@]} - 1; i++)); do b1=$((b1 + R[i])); done
	w0=$W0
	[ $alive = 1 ] ||
		fail "$name: the waiting ring completed $((w1 - w0)) requests while the bystanders" \
			"completed $((b1 - b0)), to the end of a bench"
	echo "$name: the waiting ring completed $((w1 - w0)) requests, the bystanders $((b1 - b0))"
	[ $((b1 - b0)) -le $((RATIO * (w1 - w0) + SLACK)) ] ||
		fail "$name: the bystanders completed $((b1 - b0)) requests while the waiting ring" \
			"completed $((w1 - w0)): more than $RATIO each, plus $SLACK"
	for i in "${!PIDS[@]}"; do
		wait "${PIDS[i]}" ||
			fail "$name: the bench on ${disks[i]} failed: $(tail -n 3 "$XENSIM_DIR/${disks[i]/:/-}.log")"
	done
	for d in "${disks[@]}"; do
		[ "$(bk_stat "${d%%:*}" "${d#*:}" err_req)" -eq 0 ] || fail "$name: $d counts failed requests"
	done
}

fair_case "the domain's budget" "busy:xvdb" "busy:xvdc"
fair_case "the daemon's budget" "b1:xvdb b2:xvdb" "quiet:xvdb"
bk_serving || fail "blkbackd no longer answers"
