#!/bin/bash
# The xl scenario (runs in dom0, booted on Xen 4.20): disks that the toolstack names, served by
# blkbackd under kind vbd3 (xl's backendtype=tap from Xen 4.19 on) beside a disk of the
# kernel's xen-blkback in the same guest. xl create, block-attach, block-list, block-detach,
# the guest's blkfront unbind/bind, destroy and bad specs, each checked from dom0 (xenstore,
# the daemon) and from the guest (its own data). One PASS or FAIL line per step (xl.steps);
# the guest's side is run_xl in guest.sh.
set -euo pipefail
. /bench/lib.sh

G=xlg                 # the guest
PHY_IMG=/tmp/phy.img  # the kernel-served disk's file (behind a loop device)
XL_IMG=/srv/xl.img    # the file disk of xl block-attach
XVDB=51728 XVDC=51744 XVDD=51760 XVDE=51776 XVDF=51792
DETACH_LIMIT=5        # seconds: libxl itself gives up waiting for Closed after 10

# Print the fds blkbackd has open now.
daemon_fds() { pid_fds "$DAEMON_PID"; }

# Print how many mappings of the grant device blkbackd holds (each mapped guest page range).
daemon_gntdev_maps() { pid_gntdev_maps "$DAEMON_PID"; }

# Print key $1 of "blkbackctl stats --daemon".
daemon_stat() { blkbackctl stats --daemon 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'; }

# Print the state of the device with devid $1 in "xl block-list $G" (empty if not listed).
blocklist_state() { xl_state "$1" "$G"; }

# Succeed if "xl block-list" shows devid $1 in state 4 (Connected).
blocklist_connected() { [ "$(blocklist_state "$1")" = 4 ]; }

# Succeed if neither backend nor frontend directory of domain $1's device $2 exists, under
# kind $3 (vbd3 by default).
no_device_nodes() {
    ! xenstore-exists "/local/domain/0/backend/${3:-$KIND}/$1/$2" 2>/dev/null &&
        ! xenstore-exists "$(frontend_dir "$1" "$2")" 2>/dev/null
}

# Succeed once xenstore has no backend directory of domain $1 under kind $2.
no_backend_of() { ! xenstore-exists "/local/domain/0/backend/$2/$1" 2>/dev/null; }

# Succeed if "blkbackctl list" names no disk of domain $1 (by domid or by name $2).
list_has_none() {
    blkbackctl list > /tmp/list.out 2>&1 || return 1
    ! grep -Eq "(^|[[:space:]])($1|$2)[[:space:]]" /tmp/list.out
}

# Show the daemon log lines since line $1, the last $2 (20) of them (for a failure's context).
daemon_log_since() { tail -n "+$1" "$DAEMON_LOG" | sed 's/^/  blkbackd| /' | tail -n "${2:-20}"; }

# Set up: /srv, a loop device for the kernel-served disk, blkbackd, and the daemon's baseline.
step_setup() {
    setup_srv || { echo "note: cannot make /srv; file disks will fail"; }
    truncate -s 64M "$PHY_IMG"
    PHY_DEV=$(losetup -f) && losetup "$PHY_DEV" "$PHY_IMG" || PHY_DEV=none
    # as the installed service runs it (deb-install: the package's unit and programs)
    unit_start || echo "note: blkbackd.service's ExecStart failed: $(oneline /tmp/unit-start.log)"
    FDS0=$(daemon_fds)
    THREADS0=$(daemon_stat threads)
    MEM0=$(daemon_stat mem_bytes)   # what its ramdisks hold: back to this after xl destroy
    echo "dom0: blkbackd pid $DAEMON_PID: $FDS0 fds, ${THREADS0:-?} threads before any guest; phy disk on $PHY_DEV"
}

# xl-create: a guest whose domain config names a blkbackd ramdisk (xvdb) and a disk of the
# kernel's xen-blkback (xvdc); the guest writes and checks both; xl block-list shows both in
# state 4.
step_create() {
    local t0 t1 why=
    cat > "/tmp/$G.cfg" <<EOF
name = "$G"
type = "pv"
kernel = "/boot/guest/vmlinux"
ramdisk = "/boot/guest/initrd.cpio"
extra = "console=hvc0 quiet bench=xl"
memory = 128
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
disk = [ '$(tap_disk xvdb mem:size=64M)', 'phy:$PHY_DEV,xvdc,w' ]
EOF
    echo "dom0# xl create /tmp/$G.cfg   (disk = $(sed -n 's/^disk = //p' "/tmp/$G.cfg"))"
    now_ms; t0=$NOW_MS
    if ! xl create -q "/tmp/$G.cfg" > /tmp/create.log 2>&1; then
        show /tmp/create.log "  xl"
        daemon_log_since 1
        fail xl-create "xl create failed: $(oneline /tmp/create.log)"
        return 1
    fi
    now_ms; t1=$NOW_MS
    D=$(xl domid "$G")
    echo "dom0: xl create took $((t1 - t0)) ms; guest $G is domain $D"
    wait_mark "$G" xlc-xvdb 120 || true
    wait_mark "$G" xlc-xvdc 120 || true
    xl block-list "$G" | sed 's/^/  xl block-list| /'
    xenstore-read "/local/domain/0/backend/$KIND/$D/$XVDB/params" 2>/dev/null | sed 's/^/  params of xvdb: /'
    [[ $(guest_mark "$G" xlc-xvdb) == ok* ]] || why="xvdb (blkbackd): $(guest_mark "$G" xlc-xvdb); "
    [[ $(guest_mark "$G" xlc-xvdc) == ok* ]] || why+="xvdc (xen-blkback): $(guest_mark "$G" xlc-xvdc); "
    blocklist_connected $XVDB || why+="xl block-list shows xvdb in state '$(blocklist_state $XVDB)', want 4; "
    blocklist_connected $XVDC || why+="xl block-list shows xvdc in state '$(blocklist_state $XVDC)', want 4; "
    if [ -z "$why" ]; then pass xl-create; else fail xl-create "${why%; }"; fi
}

# xl-block-attach: attach a file disk of blkbackd as xvdd; the guest writes and checks it;
# xl block-list shows it; xl block-detach completes within DETACH_LIMIT s and leaves no node;
# attach again: the guest reads back what it wrote.
step_block_attach() {
    local spec t0 t1 why= line
    truncate -s 64M "$XL_IMG"
    spec=$(tap_disk xvdd "file:$XL_IMG")
    line=$(wc -l < "$DAEMON_LOG")
    echo "dom0# xl block-attach $G '$spec'"
    if ! xl block-attach "$G" "$spec" > /tmp/attach.log 2>&1; then
        show /tmp/attach.log "  xl"
        daemon_log_since "$line"
        fail xl-block-attach "xl block-attach failed: $(oneline /tmp/attach.log)"
        return 1
    fi
    wait_mark "$G" xla-rw 120 || true
    [[ $(guest_mark "$G" xla-rw) == ok* ]] || { fail xl-block-attach "guest: $(guest_mark "$G" xla-rw)"; return 1; }
    blocklist_connected $XVDD || why+="xl block-list shows xvdd in state '$(blocklist_state $XVDD)', want 4; "
    echo "dom0# xl block-detach $G xvdd"
    now_ms; t0=$NOW_MS
    xl block-detach "$G" xvdd > /tmp/detach.log 2>&1 || why+="xl block-detach failed: $(oneline /tmp/detach.log); "
    now_ms; t1=$NOW_MS
    echo "dom0: xl block-detach took $((t1 - t0)) ms"
    [ $((t1 - t0)) -lt $((DETACH_LIMIT * 1000)) ] ||
        why+="xl block-detach took $((t1 - t0)) ms (limit ${DETACH_LIMIT} s; libxl waits 10 s for Closed); "
    no_device_nodes "$D" $XVDD || why+="xenstore still has xvdd's nodes after the detach; "
    wait_mark "$G" xla-gone 60 || true
    [[ $(guest_mark "$G" xla-gone) == ok* ]] || why+="guest: $(guest_mark "$G" xla-gone); "
    echo "dom0# xl block-attach $G '$spec'   (again)"
    if ! xl block-attach "$G" "$spec" > /tmp/attach.log 2>&1; then
        fail xl-block-attach "${why}the second xl block-attach failed: $(oneline /tmp/attach.log)"
        return 1
    fi
    wait_mark "$G" xla-again 120 || true
    [[ $(guest_mark "$G" xla-again) == ok* ]] || why+="after attaching again, guest: $(guest_mark "$G" xla-again); "
    blocklist_connected $XVDD || why+="xl block-list shows xvdd in state '$(blocklist_state $XVDD)' after attaching again; "
    if [ -z "$why" ]; then pass xl-block-attach; else fail xl-block-attach "${why%; }"; fi
}

# Tell the guest (now domain $D) word $1 through its xenstore data/bench-go.
guest_word() { xenstore-write "/local/domain/$D/data/bench-go" "$1" || echo "note: xenstore-write data/bench-go failed"; }

# Print what guest marker $1 says of disk $2 ("fe=6 be=6 disk=gone" from "xvdc fe=... ; xvdd ...").
reload_part() { guest_mark "$G" "$1" | tr ';' '\n' | sed -n "s/^ *$2 //p"; }

# blkfront-reload: the guest unbinds xen-blkfront from xvdc (xen-blkback, phy) and xvdd
# (blkbackd, file) through the driver's sysfs and binds it again (after an unbind Linux's
# blkfront stays Closed, so neither reconnects): ours must end exactly as the kernel backend's
# does, in the guest's view and in the backend's state here, and a disk that came back must
# read its data intact; then xl block-detach and block-attach of both bring them back intact.
step_reload() {
    local why= k o ks os kbe=/local/domain/0/backend/vbd/$D/$XVDC obe=/local/domain/0/backend/$KIND/$D/$XVDD
    guest_word reload
    wait_mark "$G" xlb-unbind 120 || true
    echo "dom0: guest after unbind: $(guest_mark "$G" xlb-unbind)"
    wait_mark "$G" xlb-bind 120 || { fail blkfront-reload "guest: no xlb-bind (after unbind: $(guest_mark "$G" xlb-unbind))"; return 1; }
    echo "dom0: guest after bind: $(guest_mark "$G" xlb-bind)"
    ks=$(xenstore-read "$kbe/state" 2>/dev/null) || ks=none
    os=$(xenstore-read "$obe/state" 2>/dev/null) || os=none
    echo "dom0: backend states: xvdc (xen-blkback) $ks, xvdd (blkbackd) $os; blkbackd-status of xvdd: $(xenstore-read "$obe/blkbackd-status" 2>/dev/null); online: $(xenstore-read "$kbe/online" 2>/dev/null) and $(xenstore-read "$obe/online" 2>/dev/null)"
    [ "$ks" != none ] && [ "$ks" = "$os" ] || why+="backend state of xvdd (blkbackd) is $os, of xvdc (xen-blkback) $ks; "
    for m in xlb-unbind xlb-bind; do
        k=$(reload_part $m xvdc) o=$(reload_part $m xvdd)
        [ -n "$k" ] && [ "${k#fe=}" != "$k" ] && [ "$k" = "$o" ] ||
            why+="$m: xvdc (xen-blkback) '$k' but xvdd (blkbackd) '$o'; "
        case "$k $o" in *differs*) why+="$m: a reconnected disk reads other data: $(guest_mark "$G" $m); " ;; esac
    done
    for v in xvdc xvdd; do
        timed detach-$v xl block-detach "$G" $v || why+="xl block-detach $v failed: $(oneline /tmp/detach-$v.log); "
    done
    wait_for 10 eval 'no_device_nodes "$D" $XVDC vbd && no_device_nodes "$D" $XVDD' ||
        why+="xenstore still has xvdc's or xvdd's nodes after the detach; "
    timed attach-xvdc xl block-attach "$G" "phy:$PHY_DEV,xvdc,w" || why+="xl block-attach xvdc failed: $(oneline /tmp/attach-xvdc.log); "
    timed attach-xvdd xl block-attach "$G" "$(tap_disk xvdd "file:$XL_IMG")" ||
        why+="xl block-attach xvdd failed: $(oneline /tmp/attach-xvdd.log); "
    guest_word reattached
    for v in xvdc xvdd; do
        wait_mark "$G" xlb-$v 120 || true
        echo "dom0: guest says: xlb-$v $(guest_mark "$G" xlb-$v)"
        [[ $(guest_mark "$G" xlb-$v) == ok* ]] || why+="after detach and attach, guest: $v: $(guest_mark "$G" xlb-$v); "
    done
    blocklist_connected $XVDC || why+="xl block-list shows xvdc in state '$(blocklist_state $XVDC)'; "
    blocklist_connected $XVDD || why+="xl block-list shows xvdd in state '$(blocklist_state $XVDD)'; "
    if [ -z "$why" ]; then pass blkfront-reload; else fail blkfront-reload "${why%; }"; fi
}

# Print the domid of guest $G (fails while no domain has that name).
settled_domid() { xl domid "$G" 2>/dev/null; }

# Succeed once guest $G is a domain other than $1, and set D to it. One xl domid per look:
# two (one for "exists", one for "is new") once passed in the moment the old domain was gone
# and the new one not yet made, and the step then found no guest (tests/xen/README.md).
new_domid() {
    local d
    d=$(settled_domid) && [ -n "$d" ] && [ "$d" != "$1" ] || return 1
    D=$d
}

# Print PASS or FAIL $1 from the guest's marker $2 (reasons so far in $3).
lifecycle_verdict() {
    local why=$3
    wait_mark "$G" "$2" 180 || true
    echo "dom0: guest says: $2 $(guest_mark "$G" "$2")"
    [[ $(guest_mark "$G" "$2") == ok* ]] || why+="guest: ${2}: $(guest_mark "$G" "$2"); "
    blocklist_connected $XVDD || why+="xl block-list shows xvdd in state '$(blocklist_state $XVDD)'; "
    if [ -z "$why" ]; then pass "$1"; else fail "$1" "${why%; }"; fi
}

# Run command $2... timed, printing it and how long it took; its output goes to /tmp/$1.log.
timed() {
    local t0 t1 rc=0 log=/tmp/$1.log
    shift
    echo "dom0# $*"
    now_ms; t0=$NOW_MS
    "$@" > "$log" 2>&1 || rc=$?
    now_ms; t1=$NOW_MS
    echo "dom0: $(printf '%s ' "$@" | sed 's/ -[^ ]*//g' | cut -d' ' -f1-2) took $((t1 - t0)) ms (exit $rc)"
    [ "$rc" = 0 ] || show "$log" "  xl"
    return $rc
}

# xl-save-restore: xl save then xl restore rebuild the guest from its stored config, with the
# disk that xl block-attach added; the restored guest reads back the data of xvdd (blkbackd,
# file) and xvdc (xen-blkback) written before the save, and of xvdb (blkbackd, mem:, kept for
# its VM meanwhile). The 128 MiB image goes to a tmpfs of its own: dom0's root is a tmpfs
# capped at half of dom0's 768 MiB (run.sh), which the unpacked image mostly fills (with the
# package's libnbd and its libraries, xl save there failed with ENOSPC at 82 MiB).
step_save_restore() {
    local why= dir=/run/xlsave save=/run/xlsave/$G.save
    mkdir -p "$dir" && mount -t tmpfs -o size=160M xlsave "$dir" ||
        { why+="cannot mount a tmpfs for the save image; "; save=/tmp/$G.save; }
    echo "dom0: before xl save: $(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo) MiB available"
    wait_mark "$G" xls-ready 60 || { fail xl-save-restore "guest not ready: no xls-ready"; return; }
    timed save xl save "$G" "$save" || why+="xl save failed: $(oneline /tmp/save.log); "
    echo "dom0: save image $(du -m "$save" | cut -f1) MiB"
    timed restore xl -vvv restore "$save" || why+="xl restore failed: $(oneline /tmp/restore.log); "
    rm -f "$save"
    umount "$dir" 2>/dev/null || true
    D=$(settled_domid) || { fail xl-save-restore "${why}no domain $G after xl restore"; return 1; }
    guest_word restored
    lifecycle_verdict xl-save-restore xls-check "$why"
}

# xl-migrate: xl migrate to localhost, the receiving xl run here by a stand-in for ssh. On
# this bench it cannot work: Debian builds Xen without shadow paging, which a PV guest's
# log-dirty mode needs, xl migrate is always live, and the emulated CPU has no VT-x for a
# PVH or HVM guest. libxl then fails "Failed to enable logdirty" and resumes the guest where
# it was: the step reports that as SKIP, with libxl's own line, once the guest is seen to run
# on under the same domid with its disks Connected; any other failure is a FAIL. Where the
# migrate works, the guest must run under a new domid with every disk Connected (the next
# step, xl-reboot, then checks the data written before).
step_migrate() {
    local old=$D why= line
    printf '#!/bin/sh\n# ssh stand-in for xl migrate to localhost: drop the host, run the rest\nshift\nexec "$@"\n' \
        > /tmp/xl-local-ssh && chmod 755 /tmp/xl-local-ssh
    if timed migrate xl migrate -s /tmp/xl-local-ssh "$G" localhost; then
        D=$(settled_domid) || D=none
        [ "$D" != "$old" ] && [ "$D" != none ] || why+="no new domain after xl migrate (domid $D, was $old); "
        wait_for 20 blocklist_connected $XVDD || why+="xvdd is in state '$(blocklist_state $XVDD)' after the migrate; "
        wait_for 20 blocklist_connected $XVDB || why+="xvdb is in state '$(blocklist_state $XVDB)' after the migrate; "
        if [ -z "$why" ]; then pass xl-migrate; else fail xl-migrate "${why%; }"; fi
        return
    fi
    line=$(grep -m1 -i 'logdirty' /tmp/migrate.log) || {
        fail xl-migrate "xl migrate failed: $(oneline /tmp/migrate.log)"
        return
    }
    D=$(settled_domid) || D=none
    [ "$D" = "$old" ] || why+="the guest is domain $D after the failed migrate, was $old; "
    wait_for 20 blocklist_connected $XVDD || why+="xvdd is in state '$(blocklist_state $XVDD)' after the failed migrate; "
    wait_for 20 blocklist_connected $XVDB || why+="xvdb is in state '$(blocklist_state $XVDB)' after the failed migrate; "
    if [ -n "$why" ]; then
        fail xl-migrate "the guest did not come through the failed migrate: ${why%; }"
    else
        echo "SKIP xl-migrate ($XEN_REL): this Xen cannot migrate a PV guest (built without shadow paging, no VT-x under emulation): xl said: $line"
    fi
}

# xl-reboot: xl reboot; the new boot of the guest (told by /bench-phase, which every domain may
# read, that it is a reboot and which checksum xvdd must have) finds xvdd back and intact.
step_reboot() {
    local why= md5 md5b old=$D l0 failed0=$FAILED
    wait_mark "$G" xlr-ready 60 || { fail xl-reboot "guest not ready: no xlr-ready"; return; }
    l0=$(($(wc -l < "$DAEMON_LOG" 2>/dev/null || echo 0) + 1))   # the daemon's log from here
    md5=$(guest_mark "$G" xla-rw | cut -d' ' -f2)
    md5b=$(guest_mark "$G" xlr-ready | cut -d' ' -f1)   # xvdb's, before the reboot
    xenstore-write /bench-phase "reboot $md5 ${md5b:-none}" && xenstore-chmod /bench-phase r0 ||
        why+="cannot write /bench-phase; "
    timed reboot xl reboot "$G" || why+="xl reboot failed: $(oneline /tmp/reboot.log); "
    # libxl destroys the old domain (its disks closed, scripts run), sleeps 2 s, makes the new
    wait_for 120 new_domid "$old" || { why+="no new domain $G after xl reboot; "; D=none; }
    echo "dom0: guest $G rebooted as domain $D"
    lifecycle_verdict xl-reboot xlr-check "$why"
    [ "$FAILED" != "$failed0" ] || return 0
    # what the toolstack and the daemon did
    echo "dom0: blkbackd's log since the reboot:"
    daemon_log_since "$l0" 60
    xl list 2>&1 | sed 's/^/  xl list| /' || true
    ls -l /var/log/xen | sed 's/^/  ls| /'
    # the domain's own xl process (xl -vvv restore) rebuilt it: its log says how that went
    for f in /var/log/xen/xl-"$G".log*; do
        show "$f" "  ${f##*/}" | grep -v "xc: detail" | tail -n 80
    done
    dmesg | grep -iE 'segfault|trap|killed|blkback|vbd|xen' | tail -n 15 | sed 's/^/  dmesg| /'
    return 1
}

# One bad spec for xl-bad-spec: xl block-attach of target $1 as vdev $2 (devid $3) must fail
# and print text $4 (from blkbackd's own message, which the hotplug script hands to xl);
# reasons go to WHY. libxl itself keeps the device of a failed add in xenstore (state 6, in
# xl block-list) until xl block-detach, whatever the backend (tests/xen/README.md): so what
# is asserted is that blkbackd holds nothing for it (no fd, blkbackd-status failed, backend
# Closed), and that xl block-detach then removes it at once and leaves nothing. Each spec
# gets its own vdev, so that what one leaves behind cannot fail the other.
bad_attach() {
    local spec t0 t1 fds be=/local/domain/0/backend/$KIND/$D/$3
    spec=$(tap_disk "$2" "$1")
    fds=$(daemon_fds)
    echo "dom0# xl block-attach $G '$spec'   (must fail)"
    now_ms; t0=$NOW_MS
    if xl block-attach "$G" "$spec" > /tmp/bad.log 2>&1; then
        WHY+="xl block-attach of $1 succeeded; "
        xl block-detach "$G" "$2" >/dev/null 2>&1 || true
        return
    fi
    now_ms; t1=$NOW_MS
    show /tmp/bad.log "  xl"
    echo "dom0: xl block-attach of $1 failed after $((t1 - t0)) ms; libxl left: backend state $(xenstore-read "$be/state" 2>/dev/null), blkbackd-status $(xenstore-read "$be/blkbackd-status" 2>/dev/null), xl block-list state $(blocklist_state "$3")"
    grep -qF -- "$4" /tmp/bad.log || WHY+="xl's output for $1 lacks blkbackd's '$4': $(oneline /tmp/bad.log); "
    wait_for 10 eval '[ "$(xenstore-read "$be/state" 2>/dev/null)" = 6 ]' ||
        WHY+="after $1, the backend is in state '$(xenstore-read "$be/state" 2>/dev/null)', not Closed; "
    [ "$(xenstore-read "$be/blkbackd-status" 2>/dev/null)" = failed ] ||
        WHY+="after $1, blkbackd-status is '$(xenstore-read "$be/blkbackd-status" 2>/dev/null)', not failed; "
    [ "$(daemon_fds)" = "$fds" ] || WHY+="after $1, blkbackd has $(daemon_fds) fds, $fds before; "
    echo "dom0# xl block-detach $G $2   (libxl's own cleanup of its failed add)"
    now_ms; t0=$NOW_MS
    xl block-detach "$G" "$2" > /tmp/bad-detach.log 2>&1 ||
        WHY+="xl block-detach of the failed $2 failed: $(oneline /tmp/bad-detach.log); "
    now_ms; t1=$NOW_MS
    echo "dom0: xl block-detach of the failed $2 took $((t1 - t0)) ms"
    [ $((t1 - t0)) -lt $((DETACH_LIMIT * 1000)) ] ||
        WHY+="xl block-detach of the failed $2 took $((t1 - t0)) ms; "
    wait_for 10 no_device_nodes "$D" "$3" ||
        WHY+="after detaching the failed $2, xenstore keeps its nodes; "
    [ -z "$(blocklist_state "$3")" ] || WHY+="after detaching the failed $2, xl block-list shows it in state $(blocklist_state "$3"); "
}

# xl-bad-spec: an unknown engine and a missing file each fail xl block-attach with blkbackd's
# reason in xl's output, blkbackd holds nothing for them, xl block-detach clears what libxl
# left, and the daemon and the guest's other disks go on.
step_bad_spec() {
    WHY=
    bad_attach nosuch:x xvde $XVDE "unknown storage engine 'nosuch'"
    bad_attach file:/srv/missing.img xvdf $XVDF "cannot open /srv/missing.img"
    daemon_alive || WHY+="blkbackd is gone; "
    blocklist_connected $XVDB || WHY+="xvdb is in state '$(blocklist_state $XVDB)' after the bad specs; "
    if [ -z "$WHY" ]; then pass xl-bad-spec; else fail xl-bad-spec "${WHY%; }"; fi
}

# daemon-restart-under-xl: the unit's own restart (ExecStop, the handover; then ExecStart)
# while the guest writes and reads back 4 MiB rounds on xvdd (a file: disk, in its config
# since its block-attach): no daemon for a while, then a new one that takes the disk over;
# the guest must find every round intact, and xvdd stay Connected throughout.
step_restart() {
    local why= old=$DAEMON_PID line0
    wait_mark "$G" xlu-point 120 || { fail daemon-restart-under-xl "the guest's I/O loop did not start (no xlu-point)"; return; }
    line0=$(($(wc -l < "$DAEMON_LOG") + 1))
    unit_stop > /tmp/unit-stop.log 2>&1 || why+="ExecStop failed: $(oneline /tmp/unit-stop.log); "
    show /tmp/unit-stop.log "  blkbackctl"
    ! kill -0 "$old" 2>/dev/null || why+="the old blkbackd ($old) still runs after ExecStop returned; "
    blocklist_connected $XVDD || why+="xvdd is in state '$(blocklist_state $XVDD)' with no daemon; "
    unit_start || why+="ExecStart failed: $(oneline /tmp/unit-start.log); "
    [ "$DAEMON_PID" != "$old" ] && daemon_alive || why+="no new blkbackd runs; "
    echo "dom0: blkbackd $old handed over; blkbackd $DAEMON_PID serves"
    guest_word restarted
    wait_mark "$G" xlu-check 180 || true
    tail -n "+$line0" "$DAEMON_LOG" | grep -q "xvdd: took over from an earlier blkbackd" ||
        why+="the new blkbackd did not say it took xvdd over; "
    tail -n "+$line0" "$DAEMON_LOG" | grep -E "took over|handover|hand" | sed 's/^/  blkbackd| /' | tail -n 8
    lifecycle_verdict daemon-restart-under-xl xlu-check "$why"
}

# xl-destroy-clean: xl destroy leaves no backend node of the guest (ours or the kernel's),
# blkbackctl list names none of its disks, and blkbackd is back to its fds from before the
# guest, maps no grant pages and holds no mapping of the grant device.
step_destroy_clean() {
    local why= fds maps gp
    echo "dom0: blkbackd before xl destroy: $(daemon_fds) fds, $(daemon_gntdev_maps) gntdev mappings, grant_pages $(daemon_stat grant_pages)"
    echo "dom0# xl destroy $G"
    xl destroy "$G" > /tmp/destroy.log 2>&1 || why="xl destroy failed: $(oneline /tmp/destroy.log); "
    wait_for 30 no_backend_of "$D" "$KIND" ||
        why+="xenstore still has $(xenstore-list "/local/domain/0/backend/$KIND/$D" 2>/dev/null | tr '\n' ' ')under backend/$KIND/$D; "
    wait_for 30 no_backend_of "$D" vbd || why+="xenstore still has the kernel disk under backend/vbd/$D; "
    wait_for 30 list_has_none "$D" "$G" || why+="blkbackctl list still names domain $D: $(oneline /tmp/list.out); "
    wait_for 30 eval '[ "$(daemon_fds)" -le "$FDS0" ]' || true
    fds=$(daemon_fds) maps=$(daemon_gntdev_maps) gp=$(daemon_stat grant_pages)
    echo "dom0: blkbackd after: $fds fds (before the guest: $FDS0), $maps gntdev mappings, grant_pages ${gp:-?}, threads $(daemon_stat threads) (before: ${THREADS0:-?})"
    [ "$fds" = "$FDS0" ] || why+="blkbackd has $fds fds open, $FDS0 before the guest: $(ls -l "/proc/$DAEMON_PID/fd" | tail -n +2 | awk '{ print $NF }' | sort | uniq -c | tr -s '\n ' '  '); "
    [ "$maps" = 0 ] || why+="blkbackd still maps /dev/xen/gntdev $maps times; "
    [ "${gp:-x}" = 0 ] || why+="blkbackctl stats --daemon: grant_pages '${gp:-none}', want 0; "
    # xvdb's ramdisk goes with the destroy of a running guest: nothing kept, no byte held
    echo "dom0: blkbackd's ramdisks hold $(daemon_stat mem_bytes) bytes, $(daemon_stat kept) kept (before the guest: ${MEM0:-?} bytes)"
    [ -n "$MEM0" ] && [ "$(daemon_stat mem_bytes)" = "$MEM0" ] ||
        why+="blkbackd's ramdisks hold $(daemon_stat mem_bytes) bytes, ${MEM0:-?} before the guest; "
    [ "$(daemon_stat kept)" = 0 ] || why+="blkbackd still keeps $(daemon_stat kept) memory disks: $(blkbackctl list 2>&1 | sed -n '/^Kept/,$p' | tr '\n' ' '); "
    daemon_alive || why+="blkbackd is gone; "
    if [ -z "$why" ]; then pass xl-destroy-clean; else fail xl-destroy-clean "${why%; }"; fi
}

. /bench/xl-fio.sh
. /bench/xl-doc.sh

main() {
    step_deb_install
    step_setup
    if step_create; then
        step_block_attach || true
        step_fio
        step_nbd_guest
        step_qcow2_guest
        step_reload || true
        step_save_restore || true
        step_migrate || true
        if step_reboot || [ "$D" != none ]; then
            step_bad_spec
            step_restart
            step_destroy_clean
        else
            for s in xl-bad-spec daemon-restart-under-xl xl-destroy-clean; do fail "$s" "no guest: it did not come back from xl reboot"; done
        fi
    else
        fail xl-block-attach "no guest: xl-create failed"
        for s in fio-verify nbd-guest qcow2-guest blkfront-reload xl-save-restore xl-migrate xl-reboot xl-bad-spec daemon-restart-under-xl; do fail "$s" "no guest: xl-create failed"; done
        xl destroy "$G" >/dev/null 2>&1 || true
        fail xl-destroy-clean "no guest: xl-create failed"
    fi
    step_xl_doc "$DAEMON_PID"
    srv_storage_clean > /tmp/srv.err || echo "note: /srv's loop device failed a write: $(oneline /tmp/srv.err)"
    echo "dom0: blkbackd log (last 30 lines):"
    tail -n 30 "$DAEMON_LOG" | sed 's/^/  blkbackd| /'
    show "$(guest_log "$G")" "  $G" | tail -n 40
    echo "BENCH-DONE xl"
}

main "$@"
