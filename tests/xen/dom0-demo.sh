#!/bin/bash
# The demo scenario (runs in dom0): a narrated walk through serving a ramdisk to a guest with
# blkbackd, with the guest's console streamed live (guest side: run_demo in guest.sh).
set -euo pipefail
. /bench/lib.sh

# Print a narration line.
step() { printf '\n== %s\n' "$*"; }

# Print lines after line $2 of guest $1's console, prefixed, without the "@@" markers meant
# for the scripts; print the new line count.
print_new() {
    local log n
    log=$(guest_log "$1")
    n=$(wc -l < "$log" 2>/dev/null || echo 0)
    [ "$n" -gt "$2" ] && sed -n "$(($2 + 1)),${n}p" "$log" | tr -d '\r' | sed "/^@@ /d; s/^/  [$1] /" >&2
    echo "$n"
}

# Stream guest $1's console to stdout in the background until stop_follow.
follow_guest() {
    rm -f /tmp/follow.stop
    (
        n=0
        until [ -f /tmp/follow.stop ]; do n=$(print_new "$1" "$n"); sleep 0.3; done
        print_new "$1" "$n" >/dev/null
    ) 2>&1 &
    FOLLOW_PID=$!
}

# Stop streaming after printing whatever the guest wrote so far.
stop_follow() {
    touch /tmp/follow.stop
    wait "$FOLLOW_PID" || true
}

main() {
    step "starting blkbackd, the userspace block backend, in dom0"
    if start_daemon; then pass daemon-started; else fail daemon-started "no pidfile: $(oneline "$DAEMON_LOG")"; fi
    step "starting a Linux PV guest 'demo' with no disk (stock Debian kernel, xen-blkfront)"
    if start_guest demo demo; then pass guest-started; else fail guest-started "$(oneline /tmp/demo.create.log)"; fi
    follow_guest demo
    step "attaching a 64 MiB ramdisk served by blkbackd to guest 'demo'"
    if ctl attach demo mem:size=64M --vdev xvdb; then pass attach; else fail attach "$(oneline /tmp/ctl.out)"; fi
    step "what blkbackd serves now"
    ctl list || true
    step "the guest finds /dev/xvdb and uses it like any disk"
    expect_ok guest-uses-disk demo demo 180
    step "detaching the disk: the guest sees xvdb go away"
    if ctl detach demo xvdb && wait_mark demo gone 60; then pass detach; else fail detach "$(oneline /tmp/ctl.out)"; fi
    step "the guest powers off"
    check guest-poweroff "guest 'demo' still running" wait_for 60 guest_gone demo
    stop_follow
    step "stopping blkbackd (SIGTERM)"
    kill -TERM "$DAEMON_PID"
    check daemon-stopped "blkbackd still running 30 s after SIGTERM" wait_for 30 daemon_gone
    step "blkbackd's log"
    show "$DAEMON_LOG" "  blkbackd"
    echo "BENCH-DONE demo"
}

main "$@"
