#!/bin/bash
# The bench scenario (runs in dom0, booted on Xen 4.20): the kernel's xen-blkback and blkbackd
# side by side in one stock guest, on the same tmpfs-backed storage, each disk read by fio in
# the guest in turns, several samples each (tests/xen/README.md, "The bench scenario"). Each
# sample prints one line "XB-SAMPLE {json}" with what the guest's fio measured and what dom0
# counted meanwhile; tests/bench/xen.sh turns them into make bench's samples and ratios. The
# PASS and FAIL lines (bench.steps) judge the set-up and that every sample ran, never speed:
# under QEMU's full emulation only the ratios mean anything.
set -euo pipefail
. /bench/lib.sh

G=xbg
DIR=/xb                 # a tmpfs of its own for the image files
SIZE_MB=64              # each disk
HZ=100                  # USER_HZ: the unit of /proc/stat and /proc/PID/stat times on x86
JOBS="qd32 qd1 1m"      # guest.sh's xb_job
# The disks: "VDEV DEVID BACKEND SPEC". The kernel's (phy:) over a loop device on a file and
# over brd; blkbackd's (xl backendtype=tap, kind vbd3) on files of the same size and bytes in
# the same tmpfs, and a mem: disk that the guest fills with brd's bytes.
DISKS=()
# Read xb_runs= and xb_runtime= from the dom0 kernel command line (tests/bench/xen.sh).
RUNS=$(sed -n 's/.*\bxb_runs=\([0-9]*\).*/\1/p' /proc/cmdline)
RUNTIME=$(sed -n 's/.*\bxb_runtime=\([0-9]*\).*/\1/p' /proc/cmdline)
RUNS=${RUNS:-3} RUNTIME=${RUNTIME:-4}
LOG=$(guest_log "$G")
declare -A F             # fio_words: the words of the guest's last sample marker

# Print dom0's busy CPU time so far in ticks: user, nice, system, irq and softirq of
# /proc/stat's cpu line (dom0 has one vCPU; steal, the time Xen gave to others, is left out).
dom0_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# Print the events that guests' disk frontends sent their backends so far: dom0's
# /proc/interrupts lines of xen-blkback (blkif-backend) and of blkbackd's event channels
# (evtchn:blkbackd). Only the disk being measured is busy, so a delta is that disk's.
dom0_blk_irqs() {
    awk '$NF == "blkif-backend" || $NF == "evtchn:blkbackd" {
        for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' /proc/interrupts
}

# Print the pids of the kernel backend's threads for the guest (xen-blkback's xenblkd
# threads, named "DOMID.DEVICE-QUEUE"), one a line.
kernel_backend_pids() {
    local p c
    for p in /proc/[0-9]*; do
        read -r c < "$p/comm" 2>/dev/null || continue
        [[ $c == "$D".* ]] && echo "${p#/proc/}"
    done
    return 0
}

# Print the CPU ticks the kernel backend's threads have used so far (KPIDS, read once).
kernel_backend_ticks() {
    local p s=0
    for p in $KPIDS; do s=$((s + $(proc_ticks "$p"))); done
    echo $s
}

# blkbackd's counters that a sample reports the growth of (blkbackctl stats --json).
OUR_KEYS="notifies wakeups grant_maps grant_unmaps grant_copies grant_copy_calls poll_hits"

# Print the context switches (voluntary and not) that the threads of processes $@ made so far.
ctx_switches() {
    local p f files=()
    for p in "$@"; do
        for f in "/proc/$p/task/"*/status; do [ ! -r "$f" ] || files+=("$f"); done
    done
    if [ ${#files[@]} = 0 ]; then echo 0; return; fi
    awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }' "${files[@]}" 2>/dev/null
}

# Print "BACKEND_TICKS REQUESTS SYSTEM_TICKS SWITCHES [COUNTER...]" of disk $1 (devid $2) of
# backend kind $3 (kernel or ours) so far: the backend's CPU ticks, its own count of read
# requests, the ticks of those in the kernel (all of them for kthreads), its threads' context
# switches and, for blkbackd, OUR_KEYS.
backend_counts() {
    local j k out t st
    if [ "$3" = kernel ]; then
        t=$(kernel_backend_ticks)
        # shellcheck disable=SC2086 # KPIDS: one pid a word
        echo "$t $(cat "/sys/bus/xen-backend/devices/vbd-$D-$2/statistics/rd_req" 2>/dev/null || echo 0) $t $(ctx_switches $KPIDS)"
    else
        j=$(blkbackctl stats "$G" "$1" --json 2>/dev/null)
        # utime and stime (fields 14, 15) in one read, no fork: "(blkbackd)" has no space
        { read -r -a st < "/proc/$DAEMON_PID/stat"; } 2>/dev/null || st=()
        out="$((${st[13]:-0} + ${st[14]:-0})) "
        [[ $j =~ \"rd_req\":\ ([0-9]+) ]] && out+=${BASH_REMATCH[1]} || out+=0
        out+=" ${st[14]:-0} $(ctx_switches "$DAEMON_PID")"
        for k in $OUR_KEYS; do    # no fork per key: each costs here
            if [[ $j =~ \"$k\":\ ([0-9]+) ]]; then out+=" ${BASH_REMATCH[1]}"; else out+=" 0"; fi
        done
        echo "$out"
    fi
}

# Print the CPU ticks (user + system, every thread) process $1 has used.
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Set F[KEY] for each KEY=VALUE word of text $1 (no fork: each costs here).
fio_words() {
    local w
    F=()
    for w in $1; do [[ $w != *=* ]] || F[${w%%=*}]=${w#*=}; done
}

# Open the guest's console log for xb_await, which reads on from where its last look
# stopped, and a fifo that nobody writes, for naps without a sleep process: while a sample
# runs, dom0 forks nothing (each fork costs tens of milliseconds of the one vCPU that also
# serves the disks: polling the log with tr and grep took 10-15 % of dom0 in the profiles).
open_console() {
    exec {LOGFD}<"$LOG" || return 1
    rm -f /tmp/xb.nap && mkfifo /tmp/xb.nap && exec {NAPFD}<>/tmp/xb.nap
    LOGPART=
}

# Sleep $1 seconds (fractions too) without a process.
nap() { read -r -t "$1" -u "$NAPFD" _ || true; }

# Wait up to $2 s for the guest's marker xb-$1 and set XB_MARK to what follows it; fails
# (XB_MARK empty) when it did not come.
xb_await() {
    local line end=$((SECONDS + $2))
    XB_MARK=
    while :; do
        while IFS= read -r -u "$LOGFD" line; do
            line=$LOGPART${line%$'\r'} LOGPART=
            case $line in
            "@@ xb-$1") return 0 ;;
            "@@ xb-$1 "*) XB_MARK=${line#"@@ xb-$1 "}; return 0 ;;
            esac
        done
        LOGPART+=$line          # a line not ended yet
        [ "$SECONDS" -lt "$end" ] || return 1
        nap 0.2
    done
}

# Have the guest run fio job $3 on disk $2 as sample number $1 and wait for its report
# (XB_MARK, empty if none came): fio runs RUNTIME seconds at least, so no look at the
# console meanwhile.
guest_fio() {
    xenstore-write "/local/domain/$D/data/bench-go" "$1 $2 $3 $RUNTIME"
    nap "$RUNTIME"
    xb_await "$1" 120 || true
}

# bench-storage: the tmpfs, the prefilled image files, the loop device, brd (if this kernel
# has it) and blkbackd; DISKS lists what the guest gets.
step_storage() {
    local why= loop brd
    mkdir -p "$DIR" && mount -t tmpfs -o size=$((SIZE_MB * 3 + 16))M xb "$DIR" || why+="cannot mount a tmpfs on $DIR; "
    head -c $((SIZE_MB << 20)) /dev/urandom > "$DIR/loop.img" &&
        cp "$DIR/loop.img" "$DIR/file.img" && cp "$DIR/loop.img" "$DIR/uring.img" ||
        why+="cannot write the image files in $DIR; "
    loop=$(losetup -f) && losetup "$loop" "$DIR/loop.img" || { why+="cannot set up a loop device; "; loop=; }
    brd=/lib/modules/$(uname -r)/kernel/drivers/block/brd.ko
    if [ -f "$brd" ] && insmod "$brd" rd_nr=1 rd_size=$((SIZE_MB * 1024)) 2>/tmp/brd.err && wait_for 5 test -b /dev/ram0; then
        dd if="$DIR/loop.img" of=/dev/ram0 bs=1M 2>/tmp/brd.err || why+="cannot fill /dev/ram0: $(oneline /tmp/brd.err); "
    else
        echo "note: no brd in this dom0 ($brd: $(oneline /tmp/brd.err 2>/dev/null)): mem: is measured against nothing, its rows are left out"
        brd=
    fi
    [ -z "$loop" ] || DISKS+=("xvdb 51728 loop phy:$loop")
    DISKS+=("xvdc 51744 file file:$DIR/file.img" "xvdd 51760 uring uring:$DIR/uring.img,direct")
    [ -z "$brd" ] || DISKS+=("xvde 51776 brd phy:/dev/ram0" "xvdf 51792 mem mem:size=${SIZE_MB}M")
    if [ -f /etc/bench-deb ]; then echo "dom0: blkbackd from the package: $(tr '\n' ' ' < /etc/bench-deb)"; fi
    start_daemon || why+="blkbackd did not start: $(tail -n 3 "$DAEMON_LOG" | tr '\n' ' '); "
    echo "dom0: $(blkbackd --version 2>&1 | head -n1); disks: $(printf '%s; ' "${DISKS[@]}")"
    # with tsc (or xen's with a stable TSC) clock_gettime runs in the vDSO, else it is a system call
    echo "dom0: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
    if [ -z "$why" ]; then pass bench-storage; else fail bench-storage "${why%; }"; fi
}

# Print the xl disk line for "VDEV DEVID BACKEND SPEC" $1.
xl_disk_of() {
    local v id b spec
    read -r v id b spec <<<"$1"
    case $spec in
    phy:*) echo "'$spec,$v,w'" ;;
    *) echo "'$(tap_disk "$v" "$spec")'" ;;
    esac
}

# bench-guest: xl create a stock guest with every disk; it fills the mem: disk from brd's and
# reports each disk's md5, which must all be the same (every disk holds the same bytes).
step_guest() {
    local d p disks= lines= why= m sums
    for d in "${DISKS[@]}"; do disks+="${d%% *} "; lines+="$(xl_disk_of "$d"), "; done
    cat > "/tmp/$G.cfg" <<EOF
name = "$G"
type = "pv"
kernel = "/boot/guest/vmlinux"
ramdisk = "/boot/guest/initrd.cpio"
extra = "console=hvc0 quiet bench=xbench"
memory = 128
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
disk = [ ${lines%, } ]
EOF
    echo "dom0# xl create /tmp/$G.cfg   (disk = [ ${lines%, } ])"
    if ! xl create -q "/tmp/$G.cfg" > /tmp/create.log 2>&1; then
        show /tmp/create.log "  xl"
        tail -n 20 "$DAEMON_LOG" | sed 's/^/  blkbackd| /'
        fail bench-guest "xl create failed: $(oneline /tmp/create.log)"
        return 1
    fi
    D=$(xl domid "$G")
    # xb-copy first: the guest reads it once xb-disks is there
    [[ " $disks" != *" xvde "* ]] || xenstore-write "/local/domain/$D/data/xb-copy" "xvde xvdf"
    xenstore-write "/local/domain/$D/data/xb-disks" "${disks% }"
    wait_mark "$G" xb-ready 300 || true
    m=$(guest_mark "$G" xb-ready)
    echo "dom0: guest says: xb-ready $m"
    [[ $m == ok* ]] || { fail bench-guest "guest: ${m:-no xb-ready marker}"; return 1; }
    open_console || { fail bench-guest "cannot open the guest's console log $LOG"; return 1; }
    sums=$(tr ' ' '\n' <<<"${m#ok }" | sed -n 's/^[a-z]*=//p' | sort -u | wc -l)
    [ "$sums" = 1 ] || why+="the disks do not all hold the same bytes: ${m#ok }; "
    KPIDS=$(kernel_backend_pids)
    for p in $KPIDS; do echo "dom0: xen-blkback thread $p: $(cat "/proc/$p/comm")"; done
    { grep -E 'blkif-backend|evtchn:' /proc/interrupts || true; } | sed 's/^/  dom0 interrupts| /'
    if [ -z "$why" ]; then pass bench-guest; else fail bench-guest "${why%; }"; fi
}

# One sample, number $1: disk "VDEV DEVID BACKEND SPEC" $2, job $3, round $4. Prints its
# XB-SAMPLE line; fails (returns 1) if the guest's fio did not report ok.
sample() {
    local n=$1 v id b spec kind m c0 c1 t0 t1 i0 i1 u0 u1 k i=4 more=
    read -r v id b spec <<<"$2"
    case $b in loop | brd) kind=kernel ;; *) kind=ours ;; esac
    read -r -a c0 <<<"$(backend_counts "$v" "$id" "$kind")"
    i0=$(dom0_blk_irqs) t0=$(dom0_busy) u0=$(cut -d' ' -f1 /proc/uptime)
    guest_fio "$n" "$v" "$3"
    t1=$(dom0_busy) i1=$(dom0_blk_irqs) u1=$(cut -d' ' -f1 /proc/uptime)
    read -r -a c1 <<<"$(backend_counts "$v" "$id" "$kind")"
    if [ "$kind" = ours ]; then
        for k in $OUR_KEYS; do more+=", \"$k\": $((c1[i] - c0[i]))"; i=$((i + 1)); done
    fi
    m=$XB_MARK
    if [[ $m != ok* ]]; then
        echo "dom0: sample $n ($b $3): ${m:-no xb-$n marker within $((RUNTIME + 120)) s}"
        return 1
    fi
    fio_words "$m"
    echo "XB-SAMPLE {\"n\": $n, \"round\": $4, \"backend\": \"$b\", \"kind\": \"$kind\", \"job\": \"$3\"," \
        "\"vdev\": \"$v\", \"fio_err\": ${F[err]:-null}, \"fio_kb\": ${F[kb]:-null}," \
        "\"fio_iops\": ${F[iops]:-null}, \"fio_ms\": ${F[ms]:-null}," \
        "\"p50_us\": ${F[p50_us]:-null}, \"p99_us\": ${F[p99_us]:-null}," \
        "\"guest_irqs\": ${F[irq]:-null}, \"dom0_irqs\": $((i1 - i0))," \
        "\"dom0_busy_ticks\": $((t1 - t0)), \"backend_ticks\": $((c1[0] - c0[0])), \"hz\": $HZ," \
        "\"backend_sys_ticks\": $((c1[2] - c0[2])), \"backend_switches\": $((c1[3] - c0[3]))," \
        "\"blk_reqs\": $((c1[1] - c0[1])), \"uptime\": [$u0, $u1]$more}"
}

# bench-samples: RUNS rounds; in each, every job on every disk in turn (the kernel's and
# blkbackd's alternating, the order turned by one each round). Every sample must report.
step_samples() {
    local r j i k n=0 bad=0 order
    echo "dom0: $RUNS rounds of ${RUNTIME}s samples: jobs $JOBS on ${#DISKS[@]} disks"
    # kernel, ours, kernel, ours, ...: loop file brd mem uring (when there is brd)
    order=()
    for b in loop file brd mem uring; do
        for d in "${DISKS[@]}"; do read -r _ _ k _ <<<"$d"; [ "$k" != "$b" ] || order+=("$d"); done
    done
    for ((r = 1; r <= RUNS; r++)); do
        for j in $JOBS; do
            for ((i = 0; i < ${#order[@]}; i++)); do
                n=$((n + 1))
                sample "$n" "${order[$(((i + r - 1) % ${#order[@]}))]}" "$j" "$r" || bad=$((bad + 1))
            done
        done
    done
    if [ "$bad" = 0 ]; then pass bench-samples; else fail bench-samples "$bad of $n samples did not report"; fi
}

# Print dom0's profile in perf data file $1 (recorded with call chains) as JSON fields:
# "samples": N, "threads": [[percent, thread], ...], "calls": [[percent, thread, system
# call], ...] and "top": [[percent, thread, function, system call], ...], each at 1.5 % of
# all samples or more. A sample counts for the function it was in, where a hypercall stub
# ends the chain for the function that made the hypercall ("hypercall in F"). In a PV
# kernel the timer's sample waits while interrupts are off and lands where they come back
# on (xen_force_evtchn_callback): such a sample counts for the function that turned them
# on. And for the system call it was under ("-" for none: user code, interrupts, kernel
# threads; "entry" for the way into the kernel, before the call). The bench's own shell and
# tools (bash, grep, sleep, perf) count as one thread, "bench".
profile_top() {
    perf script --no-demangle -i "$1" -F comm,ip,sym,dso 2>/dev/null | awk '
        function flush() {
            if (comm == "") return
            if (fn == "") fn = "?"
            if (hc && fn != "?") fn = "hypercall in " fn
            if (call == "") call = "-"
            else if (call ~ /^(xen_irq_enable|__raw_callee_save_xen_irq)/) call = "entry"   # of any call
            k = comm "\t" fn "\t" call; n[k]++; t[comm]++; c[comm "\t" call]++; total++
            comm = ""; fn = ""; call = ""; hc = 0; prev = ""
        }
        /^[^ \t]/ || /^ +[^ \t0-9a-f]/ {          # a sample: its thread name
            flush(); comm = $1
            if (comm ~ /^(bash|sh|grep|tr|sleep|date|cut|awk|cat|perf|xenstore-.*|blkbackctl)$/) comm = "bench"
            next
        }
        NF >= 2 {                                  # a frame: address, symbol, (file); leaf first
            sym = $2; sub(/\+0x[0-9a-f]+$/, "", sym)
            if (sym == "[unknown]" && $NF ~ /^\(.*\)$/) {   # no symbol: its file, "[libc.so.6]"
                sym = $NF; gsub(/^\(|\)$/, "", sym); sub(/.*\//, "", sym); sym = "[" sym "]"
            }
            if (fn == "" && sym ~ /^(xen_force_evtchn_callback|xen_irq_enable|__raw_callee_save_xen_irq_enable|check_events)/) hc = 0   # not a hypercall of its own
            else if (fn == "" && sym ~ /^xen_hypercall/) hc = 1
            else if (fn == "") fn = sym
            if (sym == "do_syscall_64" && call == "") call = prev
            prev = sym
            next
        }
        END {
            flush()
            printf "\"samples\": %d, \"threads\": [", total
            for (th in t) if (t[th] * 100 >= 1.5 * total)
                printf "%s[%.1f, \"%s\"]", m++ ? ", " : "", t[th] * 100 / total, th
            printf "], \"calls\": ["
            m = 0
            for (k in c) if (c[k] * 100 >= 1.5 * total) {
                split(k, g, "\t")
                printf "%s[%.1f, \"%s\", \"%s\"]", m++ ? ", " : "", c[k] * 100 / total, g[1], g[2]
            }
            printf "], \"top\": ["
            m = 0
            for (k in n) if (n[k] * 100 >= 1.5 * total) {
                split(k, f, "\t"); gsub(/["\\]/, "", f[2])
                printf "%s[%.1f, \"%s\", \"%s\", \"%s\"]", m++ ? ", " : "", n[k] * 100 / total, f[1], f[2], f[3]
            }
            printf "]"
        }'
}

# Tell perf record (started with --control on /tmp/perf.ctl and .ack) to $1 (enable or
# disable) and wait for its answer; fails if it gives none within 60 s.
perf_ctl() {
    local ack=
    echo "$1" >&"$PERF_CTL" && read -r -t 60 ack <&"$PERF_ACK" && [ "$ack" = ack ]
}

# bench-profiles: one more sample of every job on every disk with perf sampling all of dom0
# meanwhile (cpu-clock every 2 ms of CPU: a PV dom0 has no hardware counters); each prints
# "XB-PROFILE {json}" for the why-lines of the rows below their goal. They are not measured
# samples: perf's own work shares dom0's one vCPU. perf starts disabled and samples from its
# answer to "enable" (its start takes seconds here) until the guest's fio reported.
step_profiles() {
    local j d v b n=1000 bad=0 top pp why
    if ! command -v perf >/dev/null; then fail bench-profiles "no perf in this dom0 image"; return; fi
    rm -f /tmp/perf.ctl /tmp/perf.ack && mkfifo /tmp/perf.ctl /tmp/perf.ack
    for j in $JOBS; do
        for d in "${DISKS[@]}"; do
            read -r v _ b _ <<<"$d"
            n=$((n + 1)) why=
            perf record -q -N -g -a -e cpu-clock -c 2000000 -D -1 \
                --control fifo:/tmp/perf.ctl,/tmp/perf.ack -o /tmp/xb.perf > /tmp/perf.log 2>&1 &
            pp=$!
            exec {PERF_CTL}<>/tmp/perf.ctl {PERF_ACK}<>/tmp/perf.ack
            perf_ctl enable || why="perf did not start sampling"
            guest_fio "$n" "$v" "$j"
            perf_ctl disable || why="perf did not stop sampling"
            kill -INT "$pp" 2>/dev/null; wait "$pp" || true
            exec {PERF_CTL}>&- {PERF_ACK}>&-
            [[ $XB_MARK == ok* ]] || why+=" fio: ${XB_MARK:-no xb-$n marker}"
            top=$(profile_top /tmp/xb.perf)
            [[ $top != *'"top": []' ]] || why+=" no samples"
            if [ -n "$why" ]; then
                echo "dom0: profile of $b $j: $why; perf: $(oneline /tmp/perf.log)"
                bad=$((bad + 1))
                continue
            fi
            echo "XB-PROFILE {\"job\": \"$j\", \"backend\": \"$b\", $top}"
        done
    done
    rm -f /tmp/xb.perf /tmp/perf.ctl /tmp/perf.ack
    if [ "$bad" = 0 ]; then pass bench-profiles; else fail bench-profiles "$bad profiles did not record"; fi
}

main() {
    local ok=1
    step_storage
    step_guest || ok=0
    if [ "$ok" = 1 ]; then step_samples; else fail bench-samples "no guest"; fi
    if [ "$ok" = 1 ]; then step_profiles; else fail bench-profiles "no guest"; fi
    [ -z "${D:-}" ] || xenstore-write "/local/domain/$D/data/bench-go" "end" 2>/dev/null || true
    echo "dom0: blkbackctl stats after the samples:"
    blkbackctl stats 2>&1 | sed 's/^/  blkbackctl| /' || true
    blkbackctl stats --daemon 2>&1 | sed 's/^/  blkbackctl| /' || true
    echo "dom0: blkbackd log (last 15 lines):"
    tail -n 15 "$DAEMON_LOG" | sed 's/^/  blkbackd| /'
    show "$LOG" "  $G" | grep -v '@@ xb-[0-9]' | tail -n 30
    xl destroy "$G" >/dev/null 2>&1 || true
    echo "BENCH-DONE bench"
}

main "$@"
