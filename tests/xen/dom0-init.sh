#!/bin/bash
# dom0 /init: bring up the Xen userspace, run /bench/dom0-$bench.sh (bench= on the kernel
# command line), then power the machine off. No "set -e": /init must never exit.
set -uo pipefail
. /bench/lib.sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-$XEN_REL/bin HOME=/root

# Print a FAIL line for a boot step that went wrong, then power off.
boot_fail() {
    echo "FAIL dom0-boot ($XEN_REL): $*"
    poweroff -f
}

# Mount the pseudo file systems and create what udev would (the hotplug scripts need /dev/fd).
setup_fs() {
    mount -t proc proc /proc && mount -t sysfs sysfs /sys && mount -t devtmpfs devtmpfs /dev ||
        boot_fail "cannot mount /proc, /sys or /dev"
    mkdir -p /dev/pts /dev/shm
    mount -t devpts devpts /dev/pts
    mount -t tmpfs tmpfs /run
    ln -sf /proc/self/fd /dev/fd
    ln -sf /proc/self/fd/0 /dev/stdin
    ln -sf /proc/self/fd/1 /dev/stdout
    ln -sf /proc/self/fd/2 /dev/stderr
    mkdir -p /run/xen /run/lock /var/lib/xen /var/log/xen/console /tmp /root
}

# Load the Xen driver modules listed (in dependency order) in /etc/bench-modules.
load_modules() {
    local m
    while read -r m; do
        insmod "/lib/modules/$(uname -r)/$m" || boot_fail "insmod $m failed"
    done < /etc/bench-modules
}

# Start xenstored, dom0's xenstore entries and xenconsoled (logging each guest's console).
start_xen_tools() {
    mount -t xenfs xenfs /proc/xen || boot_fail "cannot mount xenfs on /proc/xen"
    xenstored --pid-file /run/xenstored.pid || boot_fail "xenstored failed to start"
    wait_for 20 xenstore-read / || boot_fail "xenstored does not answer"
    xen-init-dom0 >/tmp/xen-init-dom0.log 2>&1 || boot_fail "xen-init-dom0: $(tail -n1 /tmp/xen-init-dom0.log)"
    xenconsoled --log=guest --log-dir="$CONSOLE_DIR" || boot_fail "xenconsoled failed to start"
}

main() {
    local bench rc
    setup_fs
    bench=$(sed -n 's/.*\bbench=\([^ ]*\).*/\1/p' /proc/cmdline)
    [ -f "/bench/dom0-$bench.sh" ] || boot_fail "no scenario /bench/dom0-$bench.sh (bench=$bench)"
    load_modules
    start_xen_tools
    echo "dom0: Xen $XEN_REL userspace up after $(cut -d' ' -f1 /proc/uptime) s; running scenario '$bench'"
    xl list
    rc=0
    bash "/bench/dom0-$bench.sh" || rc=$?
    [ "$rc" = 0 ] || echo "FAIL scenario-exit ($XEN_REL): dom0-$bench.sh stopped with status $rc"
    sync
    poweroff -f
}

main "$@"
