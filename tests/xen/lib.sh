# Helpers for the dom0 side of the bench (sourced by dom0-init.sh and the dom0-*.sh scenarios).
CONSOLE_DIR=/var/log/xen/console
DAEMON_LOG=/tmp/blkbackd.log
KIND=vbd3
FAILED=0
# The Xen release this image was built for (mkimages.sh writes it); every step line names it.
XEN_REL=$(cat /etc/bench-release 2>/dev/null || echo unknown)

# Print a PASS line: "PASS name (release)".
pass() { echo "PASS $1 ($XEN_REL)"; }

# Print a FAIL line with its reason, "FAIL name (release): reason", and remember the failure.
fail() {
    echo "FAIL $1 ($XEN_REL): ${*:2}"
    FAILED=$((FAILED + 1))
}

# Print PASS $1 if command $3... succeeds, else FAIL $1 with reason $2.
check() {
    local name=$1 why=$2
    shift 2
    if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}

# Wait up to $1 seconds for command $2... to succeed, polling every 0.2 s.
wait_for() {
    local end=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
}

# Print a file's lines, each prefixed with $2 (for showing logs without faking PASS lines).
show() { [ -f "$1" ] && tr -d '\r' < "$1" | sed "s/^/$2| /"; return 0; }

# Print a file squeezed onto one line (for FAIL reasons).
oneline() { tr -s '\r\n\t' '   ' < "$1" | cut -c1-300; }

# Write an xl config for PV guest $1 whose /init runs the step list $2, and start it. Optional:
# $3 vCPUs (default 1), $4 MiB of memory (default 128), $5 more kernel command line words
# (guest.sh hands "module.param=value" words to insmod, as modprobe would).
start_guest() {
    cat > "/tmp/$1.cfg" <<EOF
name = "$1"
type = "pv"
kernel = "/boot/guest/vmlinux"
ramdisk = "/boot/guest/initrd.cpio"
extra = "console=hvc0 quiet bench=$2${5:+ $5}"
memory = ${4:-128}
vcpus = ${3:-1}
on_poweroff = "destroy"
on_crash = "destroy"
EOF
    xl create -q "/tmp/$1.cfg" > "/tmp/$1.create.log" 2>&1
}

# blkbackd's disk line for xl (xl-disk-configuration(5), Xen 4.19 and later): vdev $1,
# target $2, through the hotplug script /etc/xen/scripts/blkbackd.
tap_disk() { echo "vdev=$1, access=rw, backendtype=tap, script=blkbackd, target=$2"; }

# Succeed while domain $1 exists.
guest_exists() { xl domid "$1" >/dev/null 2>&1; }

# Succeed if xenstore lists a domain named $1.
xenstore_has_domain() {
    local d
    for d in $(xenstore-list /local/domain 2>/dev/null); do
        [ "$(xenstore-read "/local/domain/$d/name" 2>/dev/null)" = "$1" ] && return 0
    done
    return 1
}

# Succeed once domain $1 is gone: xl and xenstore must both say so (one xl call that
# failed while the guest ran once cut a marker wait short).
guest_gone() { ! guest_exists "$1" && ! xenstore_has_domain "$1"; }

# The console log file of guest $1 (written by xenconsoled).
guest_log() { echo "$CONSOLE_DIR/guest-$1.log"; }

# Print what follows the last "@@ $2" marker line in guest $1's console (empty if none).
guest_mark() { tr -d '\r' < "$(guest_log "$1")" 2>/dev/null | sed -n "s/^@@ $2\( \|\$\)//p" | tail -n1; }

# Succeed if guest $1 printed marker $2.
has_mark() { tr -d '\r' < "$(guest_log "$1")" 2>/dev/null | grep -q "^@@ $2\( \|\$\)"; }

# Succeed if guest $1 printed marker $2 or no longer exists.
mark_or_gone() { has_mark "$1" "$2" || guest_gone "$1"; }

# Wait up to $3 seconds for marker $2 from guest $1; fail early if the guest went away.
wait_mark() { wait_for "$3" mark_or_gone "$1" "$2" && has_mark "$1" "$2"; }

# Print PASS $1 if guest $2's marker $3 (waited for up to $4 s) says "ok", else FAIL with it.
expect_ok() {
    local val
    if wait_mark "$2" "$3" "$4"; then
        val=$(guest_mark "$2" "$3")
        case $val in ok*) pass "$1" ;; *) fail "$1" "guest $2 reports: $3 $val" ;; esac
    elif guest_gone "$2"; then
        fail "$1" "guest $2 is gone before reporting '$3'"
    else
        fail "$1" "no '$3' report from guest $2 within $4 s"
    fi
}

# Start blkbackd in the background (extra args $@, remembered in DAEMON_ARGS), appending to
# $DAEMON_LOG; wait until its pidfile names it (a SIGKILLed daemon leaves its own pid there).
start_daemon() {
    DAEMON_ARGS=("$@")
    blkbackd --kind "$KIND" "$@" >> "$DAEMON_LOG" 2>&1 &
    DAEMON_PID=$!
    wait_for 10 pidfile_names "$DAEMON_PID"
}

# Start blkbackd again the way it was last started (after it was killed or stopped).
restart_daemon() { start_daemon "${DAEMON_ARGS[@]}"; }

# Succeed if blkbackd's pidfile holds pid $1.
pidfile_names() { [ "$(cat "/run/blkbackd/$KIND.pid" 2>/dev/null)" = "$1" ]; }

# Succeed while the blkbackd we started runs.
daemon_alive() { kill -0 "$DAEMON_PID" 2>/dev/null; }

# Succeed once the blkbackd we started has exited.
daemon_gone() { ! daemon_alive; }

# Print the xenstore backend directory of domain $1's disk $2 (e.g. xvdb = 51728).
backend_dir() { echo "/local/domain/0/backend/$KIND/$1/$2"; }

# Print the xenstore frontend directory of domain $1's disk $2.
frontend_dir() { echo "/local/domain/$1/device/vbd/$2"; }

# Run blkbackctl with args $@, showing its output; on failure leave it in /tmp/ctl.out too.
ctl() {
    echo "dom0# blkbackctl $*"
    local rc=0
    blkbackctl "$@" > /tmp/ctl.out 2>&1 || rc=$?
    show /tmp/ctl.out "  blkbackctl"
    return $rc
}

# Make an ext4 file system for the disk images on a loop device (dom0's root is tmpfs, which
# has no O_DIRECT on Linux 6.1), mounted on /srv. mke2fs tries WRITE_ZEROES, which a loop
# device over tmpfs refuses and the kernel logs: the console is kept quiet meanwhile. The
# loop file lives in a tmpfs of its own, sized for it: in dom0's root tmpfs, which may hold
# half of dom0's memory and already holds the ~140 MB of dom0.cpio, it filled the root while
# the xl scenario's fio-verify wrote its images (4.20: "critical space allocation error, dev
# loop0"). -o discard gives the blocks of deleted images back (loop punches holes in its
# file), or write-back to the loop device fails with ENOSPC.
setup_srv() {
    local dev rc=0 img=/run/srvimg/srv.img
    dmesg -n 1
    mkdir -p /run/srvimg && mount -t tmpfs -o size=260M srvimg /run/srvimg &&
    truncate -s 256M "$img" && dev=$(losetup -f) && losetup "$dev" "$img" &&
        mke2fs -q -t ext4 "$dev" && mkdir -p /srv && mount -t ext4 -o discard "$dev" /srv || rc=1
    SRV_DEV=$dev
    dmesg -n 4
    return $rc
}

# Succeed if dom0's kernel logged no write error of /srv's loop device (the images' data did
# reach their storage); else print the first such line.
srv_storage_clean() {
    local e
    e=$(dmesg | grep -E -m1 "(loop: Write error|I/O error, dev ${SRV_DEV#/dev/},|Buffer I/O error on dev(ice)? ${SRV_DEV#/dev/})")
    [ -z "$e" ] || { echo "$e"; return 1; }
}

# Print how many fds process $1 has open.
pid_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# Print how many mappings of the grant device process $1 holds (each mapped guest page range).
pid_gntdev_maps() { grep -c /dev/xen/gntdev "/proc/$1/maps" 2>/dev/null || true; }

# Print the state of the device with devid $1 in "xl block-list $2" (empty if not listed).
xl_state() { xl block-list "$2" 2>/dev/null | awk -v d="$1" '$1 == d { print $4 }'; }

# Set NOW_MS to milliseconds since boot.
now_ms() { NOW_MS=$(awk '{ printf "%d", $1 * 1000 }' /proc/uptime); }

# deb-install: this dom0 runs blkbackd from the Debian package that make deb built (mkimages
# unpacked it, XEN_BENCH_DEB): its version is the package's, and the package's programs,
# hotplug script and unit are where Debian puts them and the ones in use.
step_deb_install() {
    local why= version unit=/lib/systemd/system/blkbackd.service
    if [ ! -f /etc/bench-deb ]; then
        fail deb-install "the dom0 image holds no package: run make check-xen, which builds it (or set XEN_BENCH_DEB)"
        return
    fi
    version=$(sed -n 's/^Version: //p' /etc/bench-deb)
    echo "dom0: $(tr '\n' ' ' < /etc/bench-deb)installed; $(blkbackd --version 2>&1 | head -n1)"
    [ "$(command -v blkbackd)" = /usr/sbin/blkbackd ] || why+="blkbackd in PATH is $(command -v blkbackd), not the package's /usr/sbin/blkbackd; "
    [ "$(command -v blkbackctl)" = /usr/sbin/blkbackctl ] || why+="blkbackctl in PATH is $(command -v blkbackctl); "
    blkbackd --version 2>&1 | grep -qw -- "$version" || why+="blkbackd --version says '$(blkbackd --version 2>&1 | head -n1)', the package $version; "
    [ -x /etc/xen/scripts/blkbackd ] || why+="no /etc/xen/scripts/blkbackd from the package; "
    grep -qx 'ExecStart=/usr/sbin/blkbackd --daemon $BLKBACKD_OPTS' "$unit" 2>/dev/null ||
        why+="$unit is missing or does not start /usr/sbin/blkbackd; "
    if [ -z "$why" ]; then pass deb-install; else fail deb-install "${why%; }"; fi
}

# The installed unit's command for key $1 (ExecStart, ExecStop), as systemd runs it without
# /etc/default/blkbackd: the '-' that lets it fail and the empty $BLKBACKD_OPTS left out.
unit_cmd() {
    sed -n "s/^$1=-\{0,1\}//p" /lib/systemd/system/blkbackd.service | sed 's/ *\$BLKBACKD_OPTS//'
}

# Start blkbackd the way blkbackd.service does (its ExecStart: --daemon, which returns once
# the daemon serves); DAEMON_PID from the pidfile, DAEMON_LOG where the daemon logs without
# a syslog daemon (this dom0 runs none): the run directory's vbd3.log.
unit_start() {
    local cmd
    cmd=$(unit_cmd ExecStart)
    echo "dom0# $cmd   (blkbackd.service's ExecStart)"
    $cmd >> /tmp/unit-start.log 2>&1 || return 1
    DAEMON_PID=$(cut -d' ' -f1 "/run/blkbackd/$KIND.pid")
    DAEMON_LOG=/run/blkbackd/$KIND.log
}

# Stop blkbackd the way blkbackd.service does (its ExecStop: the handover, which returns
# once the daemon has gone).
unit_stop() {
    local cmd
    cmd=$(unit_cmd ExecStop)
    echo "dom0# $cmd   (blkbackd.service's ExecStop)"
    $cmd
}