#!/bin/bash
# The check scenario (runs in dom0): blkbackd serves ramdisks to stock Linux PV guests through
# attach, I/O, mkfs, detach/re-attach, read-only, guest shutdown and SIGTERM; then file and
# uring disks, multi-queue with indirect requests, and a kill -9 and restart under guest I/O.
# Each step prints one PASS or FAIL line; the guest's side of each step is in guest.sh
# (run_check1, run_check2, run_check3).
set -euo pipefail
. /bench/lib.sh

VDEV=xvdb
DEVID=51728     # xvdb: 202 << 8 | 16
UVDEV=xvdc      # the userspace blkfront's disk in guest2
ROVDEV=xvdd     # a read-only ramdisk in guest2, for the hostile frontend only
# The hostile cases run on real Xen, by name ('hostile --list' has them all): request
# validation, grants the hypervisor refuses or the guest revoked, indirect requests, attacks on
# the ring and its event channel, a configuration refused at connect, a frontend reset that
# does not wait for the backend, and writes to a read-only disk (which the guest kernel
# never sends: they prove blkbackd's own check). Each takes 0.4-2 s under emulation, most of
# it the connect and disconnect. check.steps lists them, as CASE VDEV: CASE@VDEV here.
mapfile -t HOSTILE_CASES < <(awk '/^hostile-/ && NF == 2 { print substr($1, 9) "@" $2 }' /bench/check.steps)
# guest3: vCPUs (= queues), memory, and blkfront's ring order. With persistent grants blkfront
# keeps a bounce page for every grant a full ring can hold: (256 + 1) * 32 << order pages per
# queue, so 2 queues of 2-page rings take 128.5 MiB (order 4 would need 1 GiB).
MQ_VCPUS=2
MQ_MEM=256
MQ_ORDER=1

# Attach to guest $2 as xvdb (blkbackctl attach arguments $3...); print PASS or FAIL $1.
attach_step() {
    local step=$1 guest=$2
    shift 2
    if ctl attach "$guest" "$@" --vdev "$VDEV"; then pass "$step"; else fail "$step" "$(oneline /tmp/ctl.out)"; fi
}

# Detach xvdb from guest $1 and wait for the guest to report it gone with marker $2.
detach_and_wait() {
    ctl detach "$1" "$VDEV" || return 1
    wait_mark "$1" "$2" 60 && [ "$(guest_mark "$1" "$2")" = ok ]
}

# Succeed if "blkbackctl list" shows guest $1's xvdb as Connected (the table goes to the log).
list_shows() {
    ctl list || return 1
    grep -E "(^|[[:space:]])($1|$2)[[:space:]]" /tmp/ctl.out | grep -w "$VDEV" | grep -qw Connected
}

# Succeed if the daemon log, from line $1 on, has "d$2 xvdb: backend Connected -> Closing"
# followed later by "... Closing -> Closed".
log_shows_close() {
    tail -n "+$1" "$DAEMON_LOG" | grep -n "d$2 $VDEV: backend" > /tmp/close.lines || return 1
    local a b
    a=$(grep -m1 'Connected -> Closing' /tmp/close.lines | cut -d: -f1)
    b=$(grep 'Closing -> Closed' /tmp/close.lines | tail -n1 | cut -d: -f1)
    [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]
}

# Succeed if the frontend state of domain $1's xvdb reads 5 (Closing) or 6 (Closed).
frontend_closed() {
    case $(xenstore-read "$(frontend_dir "$1" "$DEVID")/state" 2>/dev/null) in 5 | 6) return 0 ;; esac
    return 1
}

# Succeed if blkbackd runs, guest1's xvdb is Connected and read fine after the refused write.
still_serving() {
    daemon_alive && [[ $(guest_mark guest1 roread2) == ok* ]] &&
        [ "$(xenstore-read "$(backend_dir "$D1" $DEVID)/state" 2>/dev/null)" = 4 ]
}

# Steps 0-3: daemon and guest1 up; attach a named 64 MiB ramdisk; raw I/O; ext4.
steps_first_attach() {
    if start_daemon && start_guest guest1 check1; then pass setup; else
        fail setup "blkbackd did not write its pidfile or xl create failed: $(oneline /tmp/guest1.create.log)"
    fi
    D1=$(xl domid guest1 2>/dev/null || echo none)
    attach_step attach guest1 mem:size=64M,name=disk1
    wait_mark guest1 size1 60 || true
    check guest-sees-disk-size "guest1 reports size '$(guest_mark guest1 size1)', want 131072" \
        [ "$(guest_mark guest1 size1)" = 131072 ]
    expect_ok raw-write-read-checksum guest1 raw1 120
    expect_ok mkfs-mount-fsck guest1 fs 180
}

# Steps 4-5: list; detach; re-attach the same named ramdisk and find the files intact.
steps_list_detach_reattach() {
    wait_mark guest1 release1 30 || true
    check list-shows-device "no Connected $VDEV row for guest1 in blkbackctl list" list_shows guest1 "$D1"
    if detach_and_wait guest1 gone1; then pass detach; else
        fail detach "detach failed or guest1 still sees $VDEV: $(oneline /tmp/ctl.out)"
    fi
    if ctl attach guest1 mem:size=64M,name=disk1 --vdev "$VDEV"; then
        expect_ok reattach-data-intact guest1 reattach 120
    else
        fail reattach-data-intact "re-attach failed: $(oneline /tmp/ctl.out)"
    fi
}

# Step 6: detach, attach read-only; reads match, writes are refused, the daemon keeps serving.
steps_readonly() {
    local w f
    wait_mark guest1 release2 120 || true
    detach_and_wait guest1 gone2 || echo "note: detach before the read-only attach failed: $(oneline /tmp/ctl.out)"
    ctl attach guest1 mem:size=64M,name=disk1 --vdev "$VDEV" --ro || echo "note: read-only attach failed: $(oneline /tmp/ctl.out)"
    CLOSE_FROM=$(($(wc -l < "$DAEMON_LOG") + 1))
    expect_ok readonly-read-ok guest1 roread 120
    wait_mark guest1 roread2 120 || true
    w=$(guest_mark guest1 rowrite)
    f=$(guest_mark guest1 roflush)
    echo "note: read-only disk: direct write -> '$w'; flush -> '$f'; disk unchanged after: '$(guest_mark guest1 roread2)'"
    if [[ $w != refused* ]]; then
        fail readonly-write-refused "a direct write to the read-only disk ${w:-was not reported}"
    elif [[ $f != refused-by-backend && $f != unsupported && $f != not-offered ]]; then
        fail readonly-write-refused "the backend accepted a flush on a read-only disk (${f:-no report})"
    elif [[ $(guest_mark guest1 roread2) != ok* ]]; then
        fail readonly-write-refused "the disk changed after the refused write"
    else
        pass readonly-write-refused
    fi
    wait_mark guest1 ready-for-shutdown 60 || true
    check daemon-alive-after-ro "blkbackd died, or the read-only disk is no longer Connected or readable" \
        still_serving
}

# Step 7: guest1 is asked to power off; the daemon closes its disk cleanly.
step_guest_shutdown() {
    echo "dom0# xl shutdown guest1"
    xl shutdown guest1 || echo "note: xl shutdown guest1 failed"
    if ! wait_for 60 guest_gone guest1; then
        fail guest-shutdown-clean "guest1 still exists 60 s after it began to power off"
    elif ! wait_for 20 log_shows_close "$CLOSE_FROM" "$D1"; then
        fail guest-shutdown-clean "blkbackd log lacks 'd$D1 $VDEV: backend Connected -> Closing' then 'Closing -> Closed'"
    elif grep -q 'timeout closing device' "$(guest_log guest1)"; then
        fail guest-shutdown-clean "guest1 console: $(grep -m1 'timeout closing device' "$(guest_log guest1)")"
    else
        pass guest-shutdown-clean
    fi
}

# Step 8: a second guest gets a fresh anonymous ramdisk and does I/O on it.
step_next_guest() {
    start_guest guest2 check2 || echo "note: xl create guest2 failed: $(oneline /tmp/guest2.create.log)"
    D2=$(xl domid guest2 2>/dev/null || echo none)
    # sectors 49152..49159 (24 MiB in) fail with EIO: fault injection, clear of the raw test
    if ctl attach guest2 mem:size=32M,fault=49152+8 --vdev "$VDEV"; then
        expect_ok next-guest-served guest2 raw 120
        expect_ok fault-fails-that-request-only guest2 fault 120
        local e
        e=$(stat_of guest2 err_req)
        check fault-counted-and-disk-serving "err_req '${e:-none}', backend state $(xenstore-read \
            "$(backend_dir "$D2" $DEVID)/state" 2>&1)" \
            [ "${e:-0}" -ge 1 -a "$(xenstore-read "$(backend_dir "$D2" $DEVID)/state")" = 4 ]
    else
        fail next-guest-served "attach to guest2 failed: $(oneline /tmp/ctl.out)"
    fi
}

# Steps 8b: the userspace blkfront in guest2 (guest.sh ufront_test) on a 32 MiB xvdc, next to
# the kernel blkfront's xvdb. A userspace frontend cannot connect while blkbackctl waits for it,
# hence --nowait.
steps_userspace_frontend() {
    local sectors r w t0
    wait_mark guest2 ufront-ready 120 || true
    t0=$(date +%s)
    if ! ctl attach guest2 mem:size=32M --vdev "$UVDEV" --nowait; then
        fail ufront-info "attach of $UVDEV to guest2 failed: $(oneline /tmp/ctl.out)"
        return
    fi
    ctl attach guest2 mem:size=16M --vdev "$ROVDEV" --ro --nowait ||
        echo "note: read-only attach of $ROVDEV to guest2 failed: $(oneline /tmp/ctl.out)"
    wait_mark guest2 ufront-info 120 || true
    sectors=$(guest_mark guest2 ufront-info)
    check ufront-info "guest2's 'blkfront info $UVDEV' reports '$sectors' sectors, want 65536" \
        [ "$sectors" = 65536 ]
    echo "note: guest2 blkfront info $UVDEV: $(guest_mark guest2 ufront-features)"
    expect_ok ufront-verify guest2 ufront-verify 180
    echo "note: guest2 blkfront verify $UVDEV: $(guest_mark guest2 ufront-passes)"
    r=$(stat_of guest2 rd_sect "$UVDEV")
    w=$(stat_of guest2 wr_sect "$UVDEV")
    echo "note: blkbackctl stats guest2 $UVDEV: rd_sect ${r:-none}, wr_sect ${w:-none}"
    check ufront-stats "blkbackctl stats shows rd_sect '${r:-none}', wr_sect '${w:-none}' for $UVDEV, want >= 65536 each" \
        [ "${r:-0}" -ge 65536 -a "${w:-0}" -ge 65536 ]
    expect_ok ufront-alongside guest2 ufront-alongside 60
    steps_hostile
    if ctl detach guest2 "$ROVDEV" && ctl detach guest2 "$UVDEV"; then
        expect_ok ufront-detach guest2 ufront-gone 60
    else
        fail ufront-detach "$(oneline /tmp/ctl.out)"
    fi
    echo "note: the userspace frontend's steps took $(($(date +%s) - t0)) s"
}

# Succeed once guest2 reported hostile case $1 or the end of its cases. Cheap, as polls go here:
# dom0's one vCPU also serves both disks (mark_or_gone would run xl each time). No grep -q: with
# pipefail, tr's SIGPIPE would fail the pipe.
hostile_reported() {
    tr -d '\r' < "$CONSOLE_DIR/guest-guest2.log" | grep -e "^@@ hostile-$1 " -e "^@@ hostile-done " > /dev/null
}

# One PASS or FAIL line for hostile case $1: guest2's hostile run reports the outcome the case
# expects, and blkbackd is still alive. Counts the cases that expect an error answer in
# HOSTILE_ERRORS, and adds the case's time to HOSTILE_TIMES. Once guest2 is gone, the cases
# left fail without waiting.
hostile_case_step() {
    local c=${1%@*} v
    if ! guest_gone guest2 && ! wait_for 90 hostile_reported "$c"; then
        echo "note: hostile: no report of $c from guest2 within 90 s"
    fi
    v=$(guest_mark guest2 "hostile-$c")
    if [[ $v != ok* ]]; then
        fail "hostile-$c" "guest2 reports '${v:-nothing}' (its hostile run: '$(guest_mark guest2 hostile-done)')"
    elif ! daemon_alive; then
        fail "hostile-$c" "blkbackd died"
    else
        pass "hostile-$c"
        case $v in
        "ok ERROR "*) if [ "${1#*@}" = "$ROVDEV" ]; then HOSTILE_RO=$((HOSTILE_RO + 1))
                      else HOSTILE_ERRORS=$((HOSTILE_ERRORS + 1)); fi ;;
        "ok HALT "*) HOSTILE_HALTS=$((HOSTILE_HALTS + 1)) ;;
        esac
        HOSTILE_TIMES+=" $c ${v##* }"
    fi
}

# Succeed if blkbackd runs, answers stats for guest2's xvdc, and guest2's xvdb is Connected.
hostile_survived() {
    daemon_alive && blkbackctl stats guest2 "$UVDEV" > /dev/null 2>&1 &&
        [ "$(xenstore-read "$(backend_dir "$D2" $DEVID)/state" 2>/dev/null)" = 4 ]
}

# Succeed if blkbackd's log from line $1 on has a "ring halted" line for each case that
# expects a halt ($HOSTILE_HALTS, at least one; in the guest, hostile cannot ask blkbackd,
# so this is the backend's word for it) and each names guest2's xvdc; their number goes to
# HALTS.
halts_on_victim_only() {
    tail -n "+$1" "$DAEMON_LOG" | grep 'ring halted' > /tmp/halts || true
    HALTS=$(wc -l < /tmp/halts)
    [ "$HOSTILE_HALTS" -ge 1 ] && [ "$HALTS" -ge "$HOSTILE_HALTS" ] &&
        ! grep -v "d$D2 $UVDEV: " /tmp/halts > /dev/null
}

# Succeed if the stats of guest2's read-only xvdd (JSON $1) say blkbackd refused every write
# the hostile cases sent it: err_req at least one per case ($HOSTILE_RO, at least one), and
# not a sector written or discarded. The guest's kernel refuses such writes itself
# (readonly-write-refused); only a userspace frontend gets them to blkbackd.
refused_by_backend() {
    local e w d
    e=$(json_num "$1" err_req) w=$(json_num "$1" wr_sect) d=$(json_num "$1" ds_sect)
    echo "note: read-only $ROVDEV: err_req ${e:-none}, wr_sect ${w:-none}, ds_sect ${d:-none}" \
        "after $HOSTILE_RO hostile write cases"
    [ "$HOSTILE_RO" -ge 1 ] && [ "${e:-0}" -ge "$HOSTILE_RO" ] && [ "$w" = 0 ] && [ "$d" = 0 ]
}

# Succeed if the stats deltas say the errors were all on the victim: guest2's xvdc (err_req
# +$1) answered at least one error per case that expects one ($HOSTILE_ERRORS, at least one),
# and the stock disk xvdb answered none (err_req +$2) while it was read (rd_req +$3).
errors_on_victim_only() {
    [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ && $3 =~ ^[0-9]+$ ]] &&
        [ "$HOSTILE_ERRORS" -ge 1 ] && [ "$1" -ge "$HOSTILE_ERRORS" ] && [ "$2" = 0 ] && [ "$3" -gt 0 ]
}

# Steps 8c: the malicious frontend (tests/hostile) in guest2, one case after another on the
# userspace frontend's xvdc (and the write cases on the read-only xvdd), while guest2 reads
# and checks its xvdb (kernel xen-blkfront) over and over. A PASS or FAIL line per case,
# then: blkbackd survived, every read of the stock disk matched, blkbackd's counters put the
# errors and the halts on xvdc only, and it refused every write to xvdd itself. The word to
# start is the case list (CASE@VDEV ...), written under guest2's data/ once the counters
# are read.
steps_hostile() {
    local t0 from vb sb va sa verr berr brd ro
    t0=$(date +%s)
    from=$(($(wc -l < "$DAEMON_LOG") + 1))
    HOSTILE_ERRORS=0 HOSTILE_HALTS=0 HOSTILE_RO=0 HOSTILE_TIMES=
    vb=$(blkbackctl stats guest2 "$UVDEV" --json 2>&1 || true)
    sb=$(blkbackctl stats guest2 "$VDEV" --json 2>&1 || true)
    xenstore-write "/local/domain/$D2/data/hostile-cases" "${HOSTILE_CASES[*]}" ||
        echo "note: xenstore-write data/hostile-cases failed"
    for c in "${HOSTILE_CASES[@]}"; do hostile_case_step "$c"; done
    wait_mark guest2 hostile-done 120 || true
    va=$(blkbackctl stats guest2 "$UVDEV" --json 2>&1 || true)
    sa=$(blkbackctl stats guest2 "$VDEV" --json 2>&1 || true)
    check hostile-daemon-alive "blkbackd died, does not answer stats, or guest2's $VDEV is no longer Connected" \
        hostile_survived
    expect_ok hostile-stock-disk-unaffected guest2 hostile-alongside 10
    verr=$(delta "$vb" "$va" err_req)
    berr=$(delta "$sb" "$sa" err_req)
    brd=$(delta "$sb" "$sa" rd_req)
    halts_on_victim_only "$from" || true
    echo "note: hostile: err_req +$verr on $UVDEV (victim), +$berr on $VDEV (stock, rd_req +$brd);" \
        "$HALTS 'ring halted' lines: $(cut -c1-120 /tmp/halts | tr '\n' ' ')"
    if ! errors_on_victim_only "$verr" "$berr" "$brd"; then
        fail hostile-errors-on-victim-only "err_req +$verr on $UVDEV (want >= $HOSTILE_ERRORS, the cases that expect" \
            "an error), +$berr on $VDEV (want 0) while it read rd_req +$brd (want > 0)"
    elif ! halts_on_victim_only "$from"; then
        fail hostile-errors-on-victim-only "blkbackd logged $HALTS 'ring halted' lines, want >= $HOSTILE_HALTS" \
            "(one per case that halts, at least one), all for d$D2 $UVDEV"
    else
        pass hostile-errors-on-victim-only
    fi
    ro=$(blkbackctl stats guest2 "$ROVDEV" --json 2>&1 || true)
    check readonly-refused-by-backend "blkbackd did not refuse every write to the read-only $ROVDEV" \
        refused_by_backend "$ro"
    echo "note: hostile: each case's run in guest2:$HOSTILE_TIMES"
    echo "note: the hostile steps took $(($(date +%s) - t0)) s"
}

# Step 9: SIGTERM while guest2's disk is connected: exit 0, backend Closing, frontend closing.
step_sigterm() {
    local rc=0 be
    wait_mark guest2 idle 30 || true
    kill -TERM "$DAEMON_PID"
    if ! wait_for 30 daemon_gone; then
        fail sigterm-clean "blkbackd still running 30 s after SIGTERM"
        kill -KILL "$DAEMON_PID"
        return
    fi
    wait "$DAEMON_PID" || rc=$?
    be=$(xenstore-read "$(backend_dir "$D2" $DEVID)/state" 2>/dev/null || echo missing)
    if [ "$rc" != 0 ]; then
        fail sigterm-clean "blkbackd exited with status $rc"
    elif [ "$be" != 5 ]; then
        fail sigterm-clean "backend state is '$be', want 5 (Closing)"
    elif ! wait_for 20 frontend_closed "$D2"; then
        fail sigterm-clean "guest2 frontend state is '$(xenstore-read "$(frontend_dir "$D2" $DEVID)/state" 2>&1)', want 5 or 6"
    else
        pass sigterm-clean
    fi
}

# A counter from "blkbackctl stats DOMAIN VDEV --json": $1 domain, $2 key, $3 vdev (xvdb).
stat_of() {
    blkbackctl stats "$1" "${3:-$VDEV}" --json | sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p"
}

# Allocated 512-byte blocks of file $1.
blocks() { stat -c %b "$1"; }

# One engine round against guest3 (guest.sh engine_round): $1 engine, $2 spec options.
engine_steps() {
    local e=$1 img=/srv/$1.img b0 b1 f md5
    truncate -s 64M "$img"
    if ! ctl attach guest3 "$e:$img$2" --vdev "$VDEV"; then
        fail "$e-attach" "$(oneline /tmp/ctl.out)"
        return
    fi
    pass "$e-attach"
    expect_ok "$e-guest-write-read" guest3 "${e}rw" 120
    b0=$(blocks "$img")
    if ctl resize guest3 "$VDEV" 128M; then
        expect_ok "$e-resize-seen-by-guest" guest3 "${e}resize" 90
    else
        fail "$e-resize-seen-by-guest" "$(oneline /tmp/ctl.out)"
    fi
    wait_mark guest3 "${e}sync" 60 || true
    f=$(stat_of guest3 f_req)
    echo "note: $e: guest write cache '$(guest_mark guest3 "${e}cache")', flushes seen by blkbackd: ${f:-none}"
    check "$e-sync-is-a-flush" "blkbackctl stats shows f_req '${f:-none}' after the guest's sync" \
        [ "${f:-0}" -ge 1 ]
    expect_ok "$e-discard-reads-zeroes" guest3 "${e}discard" 90
    b1=$(blocks "$img")
    echo "note: $e: image blocks before discard $b0, after $b1"
    # 16 MiB were discarded: at least 12 MiB of blocks must have gone back to the file system
    check "$e-discard-punches-hole" "the image kept its blocks: $b0 before, $b1 after" \
        [ "$b1" -le $((b0 - (12 << 11))) ]
    wait_mark guest3 "${e}md5" 60 || true
    md5=$(guest_mark guest3 "${e}md5")
    if ! detach_and_wait guest3 "${e}gone"; then
        fail "$e-data-in-file" "detach failed: $(oneline /tmp/ctl.out)"
    else
        check "$e-data-in-file" "the image's first 16 MiB differ from what the guest wrote" \
            [ "$(dd if="$img" bs=1M count=16 2>/dev/null | md5sum | cut -d' ' -f1)" = "$md5" ]
    fi
    rm -f "$img"
}

# Counter $2 of the stats JSON $1 ("big": the last segs_log2_histogram bucket, requests of
# 129-256 segments); empty if missing.
json_num() {
    if [ "$2" = big ]; then
        sed -n 's/.*"segs_log2_histogram": \[\([^]]*\)\].*/\1/p' <<< "$1" | tr -d ' ' | tr ',' '\n' | tail -n1
    else
        sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" <<< "$1"
    fi
}

# How much counter $3 grew from stats JSON $1 to $2 ("none" if either lacks it).
delta() {
    local a b
    a=$(json_num "$1" "$3")
    b=$(json_num "$2" "$3")
    if [ -n "$a" ] && [ -n "$b" ]; then echo $((b - a)); else echo none; fi
}

# Succeed if blkfront's line $1 says persistent grants and indirect descriptors are enabled.
features_enabled() { [[ $1 == *"persistent grants: enabled;"* && $1 == *"indirect descriptors: enabled;"* ]]; }

# The last line in which blkbackd connected guest3's xvdb.
mq_connect_line() { grep "^.*d$D3 $VDEV: backend .* -> Connected (" "$DAEMON_LOG" | tail -n1; }

# Succeed if guest3's frontend chose ring-page-order $MQ_ORDER and blkbackd connected the disk
# with $MQ_VCPUS queues of 2^$MQ_ORDER-page rings.
multi_page_rings() {
    [ "$(xenstore-read "$(frontend_dir "$D3" $DEVID)/ring-page-order" 2>/dev/null)" = "$MQ_ORDER" ] &&
        [[ $(mq_connect_line) == *"($MQ_VCPUS queues, $((1 << MQ_ORDER))-page rings,"* ]]
}

# Succeed if blkbackd's log, from line $1 on, has a line containing $2.
log_has_from() { tail -n "+$1" "$DAEMON_LOG" | grep -qF "$2"; }

# Step 12 (guest.sh mq_round): guest3 has 2 vCPUs and blkfront up to 256 indirect segments
# on 2-page rings: a fresh file-backed xvdb has 2 queues, blkfront's line reports persistent
# grants and indirect descriptors, and a 1 MiB O_DIRECT read is one request at the daemon.
steps_mq() {
    local img=/srv/mq.img q feat before after r drd dind dbig dsect
    truncate -s 64M "$img"
    wait_mark guest3 mqmem0 60 || true
    if ! ctl attach guest3 "file:$img" --vdev "$VDEV"; then
        fail mq-attach "$(oneline /tmp/ctl.out)"
        return 1
    fi
    pass mq-attach
    wait_mark guest3 mqqueues 60 || true
    q=$(guest_mark guest3 mqqueues)
    echo "note: mq: guest3 xvdb $(guest_mark guest3 mqlimits); blkbackctl stats: queues $(stat_of guest3 queues)"
    echo "note: mq: guest3 MemAvailable $(guest_mark guest3 mqmem0) kB with no disk, $(guest_mark guest3 mqmem) kB" \
        "with xvdb connected (blkfront's bounce pages)"
    check mq-two-queues "guest3's /sys/block/$VDEV/mq has '${q:-no report}' entries and blkbackd serves \
'$(stat_of guest3 queues)' queues, want $MQ_VCPUS" [ "$q" = "$MQ_VCPUS" -a "$(stat_of guest3 queues)" = "$MQ_VCPUS" ]
    wait_mark guest3 mqfeatures 30 || true
    feat=$(guest_mark guest3 mqfeatures)
    echo "note: mq: guest3 dmesg: $feat"
    check mq-persistent-indirect "guest3's blkfront line is '${feat:-missing}'" features_enabled "$feat"
    echo "note: mq: $(mq_connect_line)"
    check mq-multi-page-ring "frontend ring-page-order '$(xenstore-read "$(frontend_dir "$D3" $DEVID)/ring-page-order" \
        2>&1)', want $MQ_ORDER, or blkbackd did not connect $MQ_VCPUS queues of $((1 << MQ_ORDER))-page rings" multi_page_rings
    wait_mark guest3 mqread-ready 60 || true
    before=$(blkbackctl stats guest3 "$VDEV" --json 2>&1 || true)
    xenstore-write "/local/domain/$D3/data/bench-go" mqread || echo "note: xenstore-write data/bench-go failed"
    wait_mark guest3 mqread 60 || true
    after=$(blkbackctl stats guest3 "$VDEV" --json 2>&1 || true)
    xenstore-write "/local/domain/$D3/data/bench-go" kill || echo "note: xenstore-write data/bench-go failed"
    r=$(guest_mark guest3 mqread)
    drd=$(delta "$before" "$after" rd_req)
    dind=$(delta "$before" "$after" ind_req)
    dbig=$(delta "$before" "$after" big)
    dsect=$(delta "$before" "$after" rd_sect)
    echo "note: mq: the 1 MiB read: rd_req +$drd, ind_req +$dind, 129-256-segment requests +$dbig," \
        "rd_sect +$dsect, wr_req +$(delta "$before" "$after" wr_req)"
    if [[ $r != ok* ]]; then
        fail mq-1mib-read-one-request "guest3's read: ${r:-no report}"
    elif [ "$drd $dind $dbig $dsect" != "1 1 1 2048" ]; then
        fail mq-1mib-read-one-request "rd_req +$drd, ind_req +$dind, 129-256-segment requests +$dbig, rd_sect +$dsect; \
want +1, +1, +1, +2048 (guest3 xvdb $(guest_mark guest3 mqlimits))"
    else
        pass mq-1mib-read-one-request
    fi
}

# Succeed if guest $1's xvdb has requests in flight at blkbackd (the count goes to INFLIGHT).
busy() {
    INFLIGHT=$(stat_of "$1" inflight)
    [ "${INFLIGHT:-0}" -gt 0 ]
}

# Step 13 (guest.sh kill_loop): while guest3's two workers write and verify, kill -9 blkbackd
# with requests in flight and start it again; it takes the disk over from its ring journals,
# and the guest's loop ends with no I/O error and every checksum equal.
steps_kill9() {
    local old=$DAEMON_PID from
    if ! wait_mark guest3 kill-point 180; then
        fail kill9-daemon-took-over "guest3 never reached its kill point: $(guest_mark guest3 kill)"
        expect_ok kill9-guest-io-survives guest3 kill 10
        return
    fi
    # Freeze /srv first: blkbackd's writes to the image then block in the kernel, so requests
    # are surely in flight (taken from the ring, unanswered) when it dies. Thawed after the
    # kill, those writes finish in the dying process, and its successor must run them again.
    fsfreeze --freeze /srv || echo "note: kill9: fsfreeze failed; killing without it"
    wait_for 20 busy guest3 || echo "note: kill9: no request seen in flight for 20 s; killing anyway"
    kill -KILL "$old" || echo "note: kill9: blkbackd (pid $old) was already gone"
    fsfreeze --unfreeze /srv 2>/dev/null || true
    wait "$old" 2>/dev/null || true
    from=$(($(wc -l < "$DAEMON_LOG") + 1))
    echo "note: kill9: blkbackd (pid $old) killed with ${INFLIGHT:-?} requests in flight"
    restart_daemon || echo "note: kill9: the new blkbackd did not write its pidfile"
    if wait_for 30 log_has_from "$from" "d$D3 $VDEV: took over from an earlier blkbackd"; then
        pass kill9-daemon-took-over
    else
        fail kill9-daemon-took-over "blkbackd log since the restart: $(tail -n "+$from" "$DAEMON_LOG" | head -n4 | tr '\n' ' ')"
    fi
    tail -n "+$from" "$DAEMON_LOG" | grep "d$D3 $VDEV" | sed 's/^/note: kill9: /' || true
    expect_ok kill9-guest-io-survives guest3 kill 300
    echo "note: kill9: guest3 reports $(guest_mark guest3 kill)"
}

# Steps 10-13: a file-backed and a uring-backed (O_DIRECT) disk for guest3, then the multi-queue
# steps on a file-backed one. guest3 has 2 vCPUs; dom0 keeps its one (two crash, see README),
# so blkbackd is told to offer 2 queues whatever dom0's CPU count.
steps_engines() {
    local t0
    if ! setup_srv; then
        fail engines-setup "cannot make the ext4 file system for the images on /srv"
        return
    fi
    start_daemon --max-queues "$MQ_VCPUS"
    start_guest guest3 check3 "$MQ_VCPUS" "$MQ_MEM" "xen_blkfront.max_indirect_segments=256 \
xen_blkfront.max_ring_page_order=$MQ_ORDER" || echo "note: xl create guest3 failed: $(oneline /tmp/guest3.create.log)"
    D3=$(xl domid guest3 2>/dev/null || echo none)
    engine_steps file ""
    engine_steps uring ",direct"
    t0=$(date +%s)
    if steps_mq; then
        steps_kill9
        detach_and_wait guest3 mqgone || echo "note: detach of the multi-queue disk failed: $(oneline /tmp/ctl.out)"
    fi
    echo "note: the multi-queue and kill -9 steps took $(($(date +%s) - t0)) s"
    sync
    srv_storage_clean > /tmp/srv.err || fail engines-storage "dom0's loop device under /srv failed a write: $(oneline /tmp/srv.err)"
    xl shutdown guest3 2>/dev/null || true
    wait_for 60 guest_gone guest3 || xl destroy guest3 2>/dev/null || true
    kill -TERM "$DAEMON_PID" && wait "$DAEMON_PID" || true
}

# Print the daemon log, and the guests' consoles if anything failed.
show_logs() {
    echo "---- blkbackd log ----"
    show "$DAEMON_LOG" "  blkbackd"
    [ "$FAILED" = 0 ] && return
    echo "---- guest1 console ----"
    show "$(guest_log guest1)" "  guest1"
    echo "---- guest2 console ----"
    show "$(guest_log guest2)" "  guest2"
    echo "---- guest3 console ----"
    show "$(guest_log guest3)" "  guest3"
}

# Succeed if the blkbackd serving kind vbd wrote its pidfile with pid $1.
vbd_pidfile_names() { [ "$(cat /run/blkbackd/vbd.pid 2>/dev/null)" = "$1" ]; }


# xl-create on Xen 4.17, which has no backendtype=tap: a disk line with script=blkbackd and no
# backend type is a phy disk under kind vbd (libxl skips its stat of the target for a script),
# served by a second blkbackd started with --kind vbd (xen-blkback is not loaded in this dom0).
# The guest writes and checks xvdb; xl block-list shows it Connected; xl destroy leaves no
# backend node of the guest.
step_xl_create_vbd() {
    local why= d pid fds0 log=/tmp/blkbackd-vbd.log
    blkbackd --kind vbd >> "$log" 2>&1 &
    pid=$!
    wait_for 10 vbd_pidfile_names "$pid" || why+="blkbackd --kind vbd wrote no pidfile; "
    fds0=$(pid_fds "$pid")
    cat > /tmp/xlv.cfg <<EOF
name = "xlv"
type = "pv"
kernel = "/boot/guest/vmlinux"
ramdisk = "/boot/guest/initrd.cpio"
extra = "console=hvc0 quiet bench=xlvbd"
memory = 128
on_poweroff = "destroy"
disk = [ 'vdev=xvdb, access=rw, script=blkbackd, target=mem:size=64M' ]
EOF
    echo "dom0# xl create /tmp/xlv.cfg   ($(grep '^disk' /tmp/xlv.cfg))"
    if ! xl create -q /tmp/xlv.cfg > /tmp/xlv.create.log 2>&1; then
        show /tmp/xlv.create.log "  xl"
        fail xl-create "xl create failed: $(oneline /tmp/xlv.create.log)"
        fail xl-block-attach "no guest: xl-create failed"
        fail xl-destroy-clean "no guest: xl-create failed"
    else
        d=$(xl domid xlv)
        wait_mark xlv xlv-xvdb 120 || true
        xl block-list xlv | sed 's/^/  xl block-list| /'
        [[ $(guest_mark xlv xlv-xvdb) == ok* ]] || why+="guest: $(guest_mark xlv xlv-xvdb); "
        [ "$(xl_state 51728 xlv)" = 4 ] || why+="xl block-list shows xvdb in state '$(xl_state 51728 xlv)', want 4; "
        [ "$(xenstore-read "/local/domain/0/backend/vbd/$d/51728/params" 2>/dev/null)" = mem:size=64M ] ||
            why+="params of backend/vbd/$d/51728 is not mem:size=64M; "
        if [ -z "$why" ]; then pass xl-create; else fail xl-create "${why%; }"; fi
        step_xl_block_attach_vbd "$d"
        step_xl_destroy_clean_vbd "$d" "$pid" "$fds0"
    fi
    step_xl_doc "$pid"
    kill -TERM "$pid" 2>/dev/null
    wait_for 20 eval '! kill -0 "$pid" 2>/dev/null' || echo "note: blkbackd --kind vbd did not exit on SIGTERM"
    show "$log" "  blkbackd-vbd"
}

# Xen 4.17's xl-block-attach: xl block-attach of a file: disk of blkbackd --kind vbd as xvdc
# (phy + script=blkbackd); the guest writes and checks it; xl block-list shows it Connected;
# xl block-detach completes well inside libxl's 10 s; attached again, the data is intact.
step_xl_block_attach_vbd() {
    local why= t0 t1 spec='vdev=xvdc, access=rw, script=blkbackd, target=file:/srv/xlv.img'
    truncate -s 64M /srv/xlv.img || why+="cannot create /srv/xlv.img; "
    echo "dom0# xl block-attach xlv '$spec'"
    xl block-attach xlv "$spec" > /tmp/xlv.attach.log 2>&1 || why+="xl block-attach failed: $(oneline /tmp/xlv.attach.log); "
    wait_mark xlv xlv-xvdc 120 || true
    [[ $(guest_mark xlv xlv-xvdc) == ok* ]] || why+="guest: xlv-xvdc $(guest_mark xlv xlv-xvdc); "
    [ "$(xl_state 51744 xlv)" = 4 ] || why+="xl block-list shows xvdc in state '$(xl_state 51744 xlv)', want 4; "
    xl block-list xlv | sed 's/^/  xl block-list| /'
    echo "dom0# xl block-detach xlv xvdc"
    now_ms; t0=$NOW_MS
    xl block-detach xlv xvdc > /tmp/xlv.detach.log 2>&1 || why+="xl block-detach failed: $(oneline /tmp/xlv.detach.log); "
    now_ms; t1=$NOW_MS
    echo "dom0: xl block-detach took $((t1 - t0)) ms"
    [ $((t1 - t0)) -lt 5000 ] || why+="xl block-detach took $((t1 - t0)) ms; "
    [ -z "$(xl_state 51744 xlv)" ] || why+="xvdc still in xl block-list after the detach; "
    wait_mark xlv xlv-gone 60 || true
    [[ $(guest_mark xlv xlv-gone) == ok* ]] || why+="guest: xlv-gone $(guest_mark xlv xlv-gone); "
    xl block-attach xlv "$spec" > /tmp/xlv.attach.log 2>&1 || why+="xl block-attach again failed: $(oneline /tmp/xlv.attach.log); "
    wait_mark xlv xlv-again 120 || true
    [[ $(guest_mark xlv xlv-again) == ok* ]] || why+="guest: xlv-again $(guest_mark xlv xlv-again); "
    if [ -z "$why" ]; then pass xl-block-attach; else fail xl-block-attach "${why%; }"; fi
}

# Xen 4.17's xl-destroy-clean: after xl destroy, no backend/vbd node of the guest, nothing in
# blkbackctl --kind vbd list, blkbackd --kind vbd ($2) back to its fds from before the guest
# ($3) and holding no mapping of the grant device.
step_xl_destroy_clean_vbd() {
    local why= d=$1 pid=$2 fds0=$3 fds maps
    xl destroy xlv > /tmp/xlv.destroy.log 2>&1 || why+="xl destroy failed: $(oneline /tmp/xlv.destroy.log); "
    wait_for 30 eval '! xenstore-exists "/local/domain/0/backend/vbd/$d" 2>/dev/null' ||
        why+="backend/vbd/$d is still in xenstore after xl destroy; "
    blkbackctl --kind vbd list > /tmp/xlv.list 2>&1 || why+="blkbackctl --kind vbd list failed: $(oneline /tmp/xlv.list); "
    ! grep -Eq "(^|[[:space:]])(xlv|$d)[[:space:]]" /tmp/xlv.list || why+="blkbackctl list still names xlv: $(oneline /tmp/xlv.list); "
    wait_for 30 eval '[ "$(pid_fds "$pid")" -le "$fds0" ]' || true
    fds=$(pid_fds "$pid") maps=$(pid_gntdev_maps "$pid")
    echo "dom0: blkbackd --kind vbd after xl destroy: $fds fds (before the guest: $fds0), ${maps:-?} gntdev mappings"
    [ "$fds" = "$fds0" ] || why+="blkbackd --kind vbd has $fds fds open, $fds0 before the guest; "
    [ "${maps:-x}" = 0 ] || why+="blkbackd --kind vbd still maps /dev/xen/gntdev ${maps:-?} times; "
    kill -0 "$pid" 2>/dev/null || why+="blkbackd --kind vbd is gone; "
    if [ -z "$why" ]; then pass xl-destroy-clean; else fail xl-destroy-clean "${why%; }"; fi
}

. /bench/xl-doc.sh

main() {
    local t0
    t0=$(date +%s)
    step_deb_install
    steps_first_attach
    steps_list_detach_reattach
    steps_readonly
    step_guest_shutdown
    step_next_guest
    steps_userspace_frontend
    step_sigterm
    xl destroy guest2 2>/dev/null || true
    steps_engines
    step_xl_create_vbd
    show_logs
    echo "check: scenario took $(($(date +%s) - t0)) s in dom0"
    echo "BENCH-DONE check"
}

main "$@"
