#!/bin/sh
# Guest /init (busybox sh): load blkfront, then run the step list named by "bench=" on the kernel
# command line. Results go to the console (hvc0) as "@@ KEY VALUE" lines that dom0 reads from
# the console log; the guest and dom0 take turns by watching /sys/block/xvdb appear and vanish,
# and dom0 ends a guest with "xl shutdown". No "set -e": /init must never exit.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
DISK=/dev/xvdb
SYS=/sys/block/xvdb

# Print a marker line for dom0.
mark() { echo "@@ $*"; }

# Print /tmp/err (the last command's errors) on one line.
err() { tr -s '\n\t' '  ' < /tmp/err; }

# Print a command as the user would type it, then run it (for the demo).
say_run() { echo "guest# $*"; "$@"; }

# Wait up to $1 seconds for command $2... to succeed, polling every 0.1 s.
wait_for() {
    n=$(($1 * 10)); shift
    until "$@"; do
        n=$((n - 1)); [ "$n" -gt 0 ] || return 1
        sleep 0.1
    done
}

# Succeed when xvdb is present, with its device node.
disk_present() { [ -e "$SYS" ] && [ -b "$DISK" ]; }

# Succeed when xvdb is gone.
disk_absent() { [ ! -e "$SYS" ]; }

# Wait for xvdb to appear and report marker $1 with its size in sectors (or "timeout").
await_disk() { if wait_for 120 disk_present; then mark "$1" "$(cat $SYS/size)"; else mark "$1" timeout; fi; }

# Wait for xvdb to vanish and report marker $1.
await_gone() { if wait_for 120 disk_absent; then mark "$1" ok; else mark "$1" timeout; fi; }

# Print the md5 of the first $1 MiB of xvdb (the whole disk without $1), read with O_DIRECT.
disk_md5() { dd if=$DISK bs=1M ${1:+count=$1} iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1; }

# Write 16 MiB of random data, read it back past the page cache, report marker $1.
raw_test() {
    dd if=/dev/urandom of=/tmp/rand bs=1M count=16 2>/dev/null
    want=$(md5sum < /tmp/rand | cut -d' ' -f1)
    if ! dd if=/tmp/rand of=$DISK bs=1M oflag=direct 2>/tmp/err; then
        mark "$1" bad write failed: "$(err)"; return
    fi
    rm -f /tmp/rand
    echo 3 > /proc/sys/vm/drop_caches
    got=$(disk_md5 16)
    echo "$got" > "/tmp/$1.md5"
    if [ "$want" = "$got" ]; then mark "$1" ok "$got"; else mark "$1" bad wrote "$want" read "$got"; fi
}

# mkfs.ext4, mount, write files (md5s kept in /tmp/files.md5), umount, fsck -fn; marker fs.
fs_test() {
    mkfs.ext4 -q -F $DISK >/tmp/err 2>&1 || { mark fs bad mkfs.ext4: "$(err)"; return; }
    mount -t ext4 $DISK /mnt 2>/tmp/err || { mark fs bad mount: "$(err)"; return; }
    for i in 1 2 3; do dd if=/dev/urandom of=/mnt/file$i bs=64k count=$((i * 8)) 2>/dev/null; done
    mkdir -p /mnt/dir && echo "hello from blkbackd" > /mnt/dir/hello.txt
    (cd /mnt && md5sum file1 file2 file3 dir/hello.txt) > /tmp/files.md5
    umount /mnt 2>/tmp/err || { mark fs bad umount: "$(err)"; return; }
    fsck.ext4 -fn $DISK >/tmp/err 2>&1 || { mark fs bad fsck.ext4: "$(err)"; return; }
    mark fs ok
}

# Mount xvdb again and check the files written by fs_test; marker reattach.
reattach_test() {
    mount -t ext4 $DISK /mnt 2>/tmp/err || { mark reattach bad mount: "$(err)"; return; }
    if (cd /mnt && md5sum -c /tmp/files.md5) >/tmp/err 2>&1; then r=ok; else r="bad $(err)"; fi
    umount /mnt || r="bad umount failed"
    mark reattach "$r"
}

# Send the one write-class request Linux still passes to a read-only disk, an empty flush
# (fsync), and report what the backend did with it; marker roflush.
flush_test() {
    if [ "$(cat $SYS/queue/write_cache)" != "write back" ]; then mark roflush not-offered; return; fi
    dmesg -c >/dev/null
    dd if=/dev/null of=$DISK conv=notrunc,fsync 2>/dev/null
    # blkfront turns a refused empty flush into "flush not supported" and logs it
    if dmesg | grep -q "xvdb: empty flush op failed"; then mark roflush refused-by-backend
    elif [ "$(cat $SYS/queue/write_cache)" != "write back" ]; then mark roflush unsupported
    else mark roflush accepted; fi
}

# On a read-only xvdb: the whole disk reads as before the detach (/tmp/disk.md5), a direct
# write after blockdev --setrw fails, a flush is not accepted, and the disk still reads the same.
# Markers rosys, roread, rowrite, roflush, roread2.
readonly_test() {
    mark rosys "$(cat $SYS/ro)"
    got=$(disk_md5)
    if [ "$got" = "$(cat /tmp/disk.md5)" ]; then mark roread ok; else mark roread bad "$got"; fi
    blockdev --setrw $DISK 2>/tmp/err || echo "blockdev --setrw: $(err)"
    # Linux 6.1 keeps the disk-level read-only flag after --setrw: its block layer answers EPERM
    # itself; an EIO would be the backend's answer
    if dd if=/dev/zero of=$DISK bs=4k count=1 oflag=direct 2>/tmp/err; then
        mark rowrite accepted
    else
        mark rowrite refused "$(grep -v records /tmp/err | sed 's/.*: //' | head -n1)"
    fi
    flush_test
    got=$(disk_md5)
    if [ "$got" = "$(cat /tmp/disk.md5)" ]; then mark roread2 ok; else mark roread2 bad "$got"; fi
}

# Let kernel info messages reach the console, then power off (blkfront closes its disks).
shutdown_now() {
    mark shutdown
    echo 7 > /proc/sys/kernel/printk
    poweroff -f
}

# Wait until dom0 asks for a power-off ("xl shutdown": the kernel runs poweroff_cmd), then do it.
await_poweroff_request() {
    mark ready-for-shutdown
    wait_for 600 test -e /tmp/poweroff-requested
    shutdown_now
}

# The check scenario's first guest: see the step list in dom0-check.sh.
run_check1() {
    await_disk size1
    raw_test raw1
    fs_test
    mark release1
    await_gone gone1
    await_disk size2
    reattach_test
    disk_md5 > /tmp/disk.md5
    mark release2
    await_gone gone2
    await_disk size3
    readonly_test
    await_poweroff_request
}

# Succeed when xvdb has $1 sectors.
size_is() { [ "$(cat $SYS/size)" = "$1" ]; }

# One engine round on a fresh 64 MiB xvdb (marker prefix $1): write 16 MiB at 0 and at 32 MiB,
# read back; wait for dom0 to grow the disk to 128 MiB; sync; discard 32..48 MiB and read
# zeroes there; report the md5 of the first 16 MiB; wait for the disk to go.
engine_round() {
    e=$1
    await_disk "${e}size"
    dd if=/dev/urandom of=/tmp/rand bs=1M count=16 2>/dev/null
    want=$(md5sum < /tmp/rand | cut -d' ' -f1)
    if dd if=/tmp/rand of=$DISK bs=1M oflag=direct 2>/tmp/err &&
        dd if=/tmp/rand of=$DISK bs=1M seek=32 oflag=direct 2>>/tmp/err; then
        got=$(disk_md5 16)
        if [ "$got" = "$want" ]; then mark "${e}rw" ok "$got"; else mark "${e}rw" bad read "$got"; fi
    else
        mark "${e}rw" bad write failed: "$(err)"
    fi
    rm -f /tmp/rand
    if wait_for 60 size_is 262144; then mark "${e}resize" ok
    else mark "${e}resize" bad size "$(cat $SYS/size)"; fi
    mark "${e}cache" "$(cat $SYS/queue/write_cache)"
    sync; dd if=/dev/null of=$DISK conv=notrunc,fsync 2>/dev/null
    mark "${e}sync" done
    if blkdiscard -o $((32 << 20)) -l $((16 << 20)) $DISK 2>/tmp/err; then
        z=$(dd if=$DISK bs=1M skip=32 count=16 iflag=direct 2>/dev/null | tr -d '\000' | wc -c)
        if [ "$z" = 0 ]; then mark "${e}discard" ok; else mark "${e}discard" bad "$z non-zero bytes"; fi
    else
        mark "${e}discard" bad blkdiscard: "$(err)"
    fi
    mark "${e}md5" "$(disk_md5 16)"
    await_gone "${e}gone"
}

# Print MemAvailable in kB.
mem_available() { sed -n 's/^MemAvailable: *\([0-9]*\) kB/\1/p' /proc/meminfo; }

# Succeed if xenstore node $1 (relative to this domain's home, /local/domain/<domid>; dom0
# writes it) reads $2. libxenstore reaches xenstored through /dev/xen/xenbus.
xs_is() { [ "$(xenstore-read "$1" 2>/dev/null)" = "$2" ]; }

# The multi-queue round on a fresh file-backed xvdb (guest3 has 2 vCPUs, and blkfront was
# loaded with the command line's max_indirect_segments and max_ring_page_order): report the
# queues, blkfront's feature line and the queue limits; on dom0's word (xenstore data/bench-go
# = mqread, written once it has read the stats) read 1 MiB at 8 MiB with O_DIRECT; then the
# write-and-verify loop (on dom0's next word, data/bench-go = kill) during which dom0 kills and
# restarts blkbackd. Markers mqmem0 (MemAvailable with no disk: dom0 waits for it before it
# attaches), mqmem, mqlimits, mqqueues, mqfeatures, mqread-ready, mqread, kill-point, kill,
# mqgone.
mq_round() {
    mark mqmem0 "$(mem_available)"
    await_disk mqsize
    mark mqmem "$(mem_available)"
    mark mqlimits "max_sectors_kb $(cat $SYS/queue/max_sectors_kb) max_hw_sectors_kb" \
        "$(cat $SYS/queue/max_hw_sectors_kb) max_segments $(cat $SYS/queue/max_segments)"
    mark mqqueues "$(ls $SYS/mq | wc -l)"
    mark mqfeatures "$(dmesg | grep 'blkfront: xvdb: ' | tail -n1 | sed 's/^\[[^]]*\] //')"
    mark mqread-ready
    if ! wait_for 120 xs_is data/bench-go mqread; then
        mark mqread bad no word from dom0 in xenstore data/bench-go
    elif dd if=$DISK of=/dev/null bs=1M count=1 skip=8 iflag=direct 2>/tmp/err; then
        mark mqread ok
    else
        mark mqread bad "$(err)"
    fi
    # dom0 reads the stats after the read before it says "kill"
    wait_for 120 xs_is data/bench-go kill || echo "guest: no word from dom0 to start the kill loop"
    kill_loop 3
    await_gone mqgone
}

# Worker $1 of round $2 of the kill loop: write its 16 MiB of xvdb (worker 0 from 0, worker 1
# from 16 MiB) as 4 chunks of 4 MiB of fresh random data, each with dd bs=1M oflag=direct
# (1 MiB requests), then read each chunk back with O_DIRECT and compare md5s. Problems go to
# /tmp/kfail. Worker 0 prints "@@ kill-point" once its first chunk of round 2 is written: dom0
# then kills blkbackd while the writes go on.
kill_worker() {
    w=$1 r=$2 base=$(($1 * 16)) c=0
    : > /tmp/k$w.md5
    while [ $c -lt 4 ]; do
        dd if=/dev/urandom of=/tmp/k$w.dat bs=1M count=4 2>/dev/null
        md5sum < /tmp/k$w.dat | cut -d' ' -f1 >> /tmp/k$w.md5
        dd if=/tmp/k$w.dat of=$DISK bs=1M seek=$((base + c * 4)) oflag=direct 2>/tmp/k$w.err ||
            echo "round $r worker $w chunk $c: write failed: $(tr -s '\n' ' ' < /tmp/k$w.err)" >> /tmp/kfail
        [ "$w$r$c" = 020 ] && mark kill-point
        c=$((c + 1))
    done
    c=0
    while read -r want; do
        if ! dd if=$DISK of=/tmp/k$w.dat bs=1M skip=$((base + c * 4)) count=4 iflag=direct 2>/tmp/k$w.err; then
            echo "round $r worker $w chunk $c: read failed: $(tr -s '\n' ' ' < /tmp/k$w.err)" >> /tmp/kfail
        elif [ "$(md5sum < /tmp/k$w.dat | cut -d' ' -f1)" != "$want" ]; then
            echo "round $r worker $w chunk $c: read back differs from what was written" >> /tmp/kfail
        fi
        c=$((c + 1))
    done < /tmp/k$w.md5
    rm -f /tmp/k$w.dat
}

# The write-and-verify loop: $1 rounds of two workers at once (one per vCPU, so both queues
# carry requests), 32 MiB a round. Marker kill: ok, or bad with the first problems, which
# include any kernel message about an I/O error or from blkfront while the loop ran.
kill_loop() {
    rm -f /tmp/kfail
    dmesg -c >/dev/null
    r=1
    while [ $r -le "$1" ]; do
        kill_worker 0 $r &
        kill_worker 1 $r &
        wait
        r=$((r + 1))
    done
    dmesg | grep -iE 'I/O error|blkfront|blk_update_request|critical' >> /tmp/kfail
    if [ -s /tmp/kfail ]; then
        mark kill bad "$(head -n3 /tmp/kfail | tr -s '\n' ' ' | cut -c1-300)"
    else
        mark kill ok "$1 rounds of 32 MiB written and read back"
    fi
}

# The check scenario's third guest: a file-backed disk, then a uring-backed one with O_DIRECT,
# then the multi-queue round on a file-backed disk.
run_check3() {
    engine_round file
    engine_round uring
    mq_round
    await_poweroff_request
}

# xvdb fails sectors 49152..49159 (fault=49152+8, at 24 MiB): reading them must fail with an
# I/O error, the sectors around them must read, and the disk must go on working; marker fault.
fault_test() {
    if dd if=$DISK of=/dev/null bs=4k skip=6144 count=1 iflag=direct 2>/tmp/err; then
        mark fault bad a read of the failing sectors succeeded; return
    fi
    grep -qi "input/output error\|I/O error" /tmp/err || { mark fault bad "$(err)"; return; }
    dd if=$DISK of=/dev/null bs=4k skip=6143 count=1 iflag=direct 2>/dev/null &&
        dd if=$DISK of=/dev/null bs=4k skip=6145 count=1 iflag=direct 2>/dev/null ||
        { mark fault bad the sectors next to the failing ones did not read; return; }
    got=$(disk_md5 16)
    if [ "$got" = "$(cat /tmp/raw.md5)" ]; then mark fault ok; else mark fault bad after: "$got"; fi
}

# The userspace blkfront's disk: xvdc, whose xenbus device the kernel's blkfront must not take.
UDEV=xvdc
USYS=/sys/bus/xen/devices/vbd-51744
AUTOPROBE=/sys/bus/xen/drivers_autoprobe

# Read xvdb's first 16 MiB over and over until file $1 exists; print how many reads started
# and how many differed from /tmp/raw.md5 (what raw_test wrote).
read_xvdb_until() {
    n=0 bad=0
    while [ ! -e "$1" ]; do
        [ "$(disk_md5 16)" = "$(cat /tmp/raw.md5)" ] || bad=$((bad + 1))
        n=$((n + 1))
    done
    echo "$n $bad"
}

# The userspace frontend (blkfront, through /dev/xen/gntalloc, evtchn and xenbus) on xvdc,
# while the kernel's xen-blkfront keeps serving xvdb. New xen bus devices are left unbound
# (drivers_autoprobe 0), or the kernel blkfront would answer xvdc's backend before blkfront
# does. Markers ufront-info (sectors), ufront-verify, ufront-alongside, ufront-gone; between
# the last two, the hostile cases (hostile_test) on the same xvdc.
ufront_test() {
    echo 0 > $AUTOPROBE
    mark ufront-ready
    if ! wait_for 120 test -e $USYS; then ufront_skip "timeout: no $UDEV"; return; fi
    if [ -e $USYS/driver ]; then ufront_skip "the kernel blkfront took $UDEV"; return; fi
    if blkfront info $UDEV >/tmp/info 2>/tmp/err; then
        sed 's/^/guest: blkfront info: /' /tmp/info
        mark ufront-features "$(grep -E '^(persistent|indirect-segments|ring):' /tmp/info | tr '\n' ';')"
        mark ufront-info "$(sed -n 's/^size: .*, \([0-9]*\) 512-byte sectors$/\1/p' /tmp/info)"
    else
        mark ufront-info bad "$(err)"
    fi
    rm -f /tmp/ufront-done
    read_xvdb_until /tmp/ufront-done > /tmp/alongside &
    blkfront verify $UDEV --iodepth 8 >/tmp/verify 2>&1
    rc=$?
    : > /tmp/ufront-done
    wait
    sed 's/^/guest: blkfront verify: /' /tmp/verify
    mark ufront-passes "$(grep '^pass ' /tmp/verify | tr '\n' ';')"
    if [ "$rc" = 0 ]; then mark ufront-verify ok; else mark ufront-verify bad exit $rc: "$(tr -s '\n' ' ' < /tmp/verify | cut -c1-200)"; fi
    set -- $(cat /tmp/alongside)
    if [ "${1:-0}" = 0 ]; then mark ufront-alongside bad no read of xvdb ran beside blkfront
    elif [ "$2" = 0 ]; then mark ufront-alongside ok "$1 reads of xvdb"
    else mark ufront-alongside bad "$2 of $1 reads of xvdb differed from what was written"; fi
    hostile_test
    await_gone_node ufront-gone
    echo 1 > $AUTOPROBE
}

# Set CS to the time since boot in hundredths of a second (no fork: a fork costs here).
centisecs() { read -r CS _ < /proc/uptime; CS=${CS%.*}${CS#*.}; }

# Succeed if xenstore node $1 (relative to this domain's home; dom0 writes it) exists.
xs_has() { xenstore-read "$1" >/dev/null 2>&1; }

# The malicious frontend (tests/hostile), one run of "hostile VDEV CASE" for each CASE@VDEV
# dom0 lists in xenstore data/hostile-cases (written once it has read blkbackd's counters):
# VDEV is xvdc, or the read-only xvdd for the write cases,
# while xvdb (the kernel's blkfront) is read and checked over and over. The reader runs at
# nice 19: it reads whenever hostile waits for the backend, and does not double hostile's time
# on the one vCPU. Markers hostile-CASE (ok, the outcome the case expects and the run's time;
# or bad and why), hostile-alongside, hostile-done.
hostile_test() {
    if ! wait_for 120 xs_has data/hostile-cases; then
        mark hostile-done bad no case list from dom0 in xenstore data/hostile-cases
        return
    fi
    rm -f /tmp/hostile-done
    read_xvdb_until /tmp/hostile-done > /tmp/hostile-alongside &
    renice -n 19 -p $! >/dev/null
    for cv in $(xenstore-read data/hostile-cases); do
        c=${cv%@*}
        centisecs
        t0=$CS
        timeout 60 hostile "${cv#*@}" "$c" >/tmp/hostile.out 2>&1
        rc=$?
        centisecs
        t=$((CS - t0))
        t=$((t / 100)).$((t % 100 / 10))s
        sed "s/^/guest: hostile $c: /" /tmp/hostile.out
        if [ "$rc" = 0 ]; then
            mark "hostile-$c" ok "$(sed -n 's/.*: as expected (\(.*\))$/\1/p' /tmp/hostile.out)" "$t"
        else
            mark "hostile-$c" bad "exit $rc after $t: $(tail -n1 /tmp/hostile.out | cut -c1-200)"
        fi
    done
    : > /tmp/hostile-done
    wait
    set -- $(cat /tmp/hostile-alongside)
    if [ "${1:-0}" = 0 ]; then mark hostile-alongside bad no read of xvdb ran beside hostile
    elif [ "$2" = 0 ]; then mark hostile-alongside ok "$1 reads of xvdb"
    else mark hostile-alongside bad "$2 of $1 reads of xvdb differed from what was written"; fi
    mark hostile-done ok
}

# Report every ufront marker as failed with reason $1 (so dom0 does not wait), then the rest.
ufront_skip() {
    mark ufront-info bad "$1"
    mark ufront-verify bad skipped
    mark ufront-alongside bad skipped
    mark hostile-done bad skipped: "$1"
    await_gone_node ufront-gone
    echo 1 > $AUTOPROBE
}

# Wait for xvdc's xen bus device to go (dom0 detached it) and report marker $1.
await_gone_node() { if wait_for 120 test ! -e $USYS; then mark "$1" ok; else mark "$1" timeout; fi; }

# The check scenario's second guest: write and read back, a failing sector, the userspace
# frontend and then the hostile one beside the kernel's, see the disk go, idle until destroyed.
run_check2() {
    await_disk size
    raw_test raw
    fault_test
    ufront_test
    mark idle
    await_gone gone
    while :; do sleep 60; done
}

# Succeed when disk $1 (xvdb, xvdc, ...) is present, with its device node.
xl_present() { [ -e "/sys/block/$1" ] && [ -b "/dev/$1" ]; }

# Succeed when disk $1 is gone.
xl_absent() { [ ! -e "/sys/block/$1" ]; }

# Print the md5 of the first 16 MiB of disk $1, read with O_DIRECT.
xl_md5() { dd if="/dev/$1" bs=1M count=16 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1; }

# Wait for disk $1, write 16 MiB of random data to it with O_DIRECT, read it back past the
# page cache; marker $2: "ok MD5" (the md5 is kept in /tmp/$1.md5), or bad and why.
xl_rw() {
    if ! wait_for 120 xl_present "$1"; then mark "$2" bad "no /dev/$1 after 120 s"; return; fi
    dd if=/dev/urandom of=/tmp/rand bs=1M count=16 2>/dev/null
    want=$(md5sum < /tmp/rand | cut -d' ' -f1)
    if ! dd if=/tmp/rand of="/dev/$1" bs=1M oflag=direct 2>/tmp/err; then
        mark "$2" bad "write to $1 failed: $(err)"; return
    fi
    rm -f /tmp/rand
    got=$(xl_md5 "$1")
    echo "$want" > "/tmp/$1.md5"
    if [ "$got" = "$want" ]; then mark "$2" ok "$got $(cat "/sys/block/$1/size") sectors"
    else mark "$2" bad "$1: wrote $want, read $got"; fi
}

# Wait for disk $1 to come back and check that its first 16 MiB read as xl_rw wrote; marker $2.
xl_again() {
    if ! wait_for 120 xl_present "$1"; then mark "$2" bad "no /dev/$1 after 120 s"; return; fi
    got=$(xl_md5 "$1")
    if [ "$got" = "$(cat "/tmp/$1.md5")" ]; then mark "$2" ok "$got"
    else mark "$2" bad "$1 reads $got, $(cat "/tmp/$1.md5") was written"; fi
}

# Wait for disk $1 to go; marker $2.
xl_gone() { if wait_for 120 xl_absent "$1"; then mark "$2" ok; else mark "$2" bad "$1 still here after 120 s"; fi; }

# Succeed if the checksums of xvdd and xvdc are still those xl_rw wrote; else print what differs.
xl_intact() {
    bad=
    for d in xvdd xvdc; do
        got=$(xl_md5 "$d")
        [ "$got" = "$(cat "/tmp/$d.md5")" ] || bad="$bad$d reads $got, $(cat "/tmp/$d.md5") was written; "
    done
    [ -z "$bad" ] || { echo "$bad"; return 1; }
}

# Wait for dom0's word $1 in xenstore data/bench-go (this domain's home: after a restore that is
# the new domain's), then check the disks' data: xvdd and xvdc as xl_rw wrote them, and
# xvdb (blkbackd's mem: disk, which belongs to the VM's disk, not to the domain id) as it
# read before the event (/tmp/xvdb.md5, taken by xl_before); marker $2.
xl_after() {
    if ! wait_for 600 xs_is data/bench-go "$1"; then mark "$2" bad "no word '$1' from dom0"; return; fi
    for d in xvdd xvdc xvdb; do wait_for 60 xl_present "$d" || { mark "$2" bad "no $d after '$1'"; return; }; done
    r=$(xl_intact) || true
    got=$(xl_md5 xvdb)
    [ "$got" = "$(cat /tmp/xvdb.md5)" ] || r="${r}xvdb (mem:) reads $got, $(cat /tmp/xvdb.md5) before; "
    if [ -z "$r" ]; then mark "$2" ok "xvdd xvdc xvdb intact"; else mark "$2" bad "$r"; fi
}

# Keep the md5 of xvdb's first 16 MiB as it reads now, before an xl event (/tmp/xvdb.md5).
xl_before() { xl_md5 xvdb > /tmp/xvdb.md5; }

# After "xl reboot" (dom0 left "reboot MD5D MD5B" in /bench-phase, readable by every domain):
# xvdd, named in the config since its xl block-attach, is back and its first 16 MiB read MD5D;
# xvdb (blkbackd's mem: disk, kept for its VM over the reboot) reads MD5B, the random data
# written to it just before the reboot (xlr-ready); marker xlr-check.
xl_rebooted() {
    set -- $(xenstore-read /bench-phase 2>/dev/null)
    for d in xvdd xvdb; do wait_for 120 xl_present "$d" || { mark xlr-check bad "no $d after the reboot"; return; }; done
    got=$(xl_md5 xvdd) bad=
    [ "$got" = "$2" ] || bad="xvdd reads $got, $2 was written; "
    gotb=$(xl_md5 xvdb)
    [ "$gotb" = "$3" ] || bad="${bad}xvdb (mem:) reads $gotb, $3 before the reboot; "
    if [ -z "$bad" ]; then mark xlr-check ok "xvdd $got xvdb $gotb"; else mark xlr-check bad "$bad"; fi
}

# While dom0 restarts blkbackd as its unit does: rounds of 4 MiB of fresh random data written
# to xvdd at 32 MiB (past what xl_rw checks) and read back, O_DIRECT; marker xlu-point after
# the first round, and xlu-check once a whole round has run after dom0's word "restarted".
xl_restart_io() {
    n=0 bad= seen=
    while [ $n -lt 300 ]; do
        n=$((n + 1))
        dd if=/dev/urandom of=/tmp/r bs=1M count=4 2>/dev/null
        want=$(md5sum < /tmp/r | cut -d' ' -f1)
        dd if=/tmp/r of=/dev/xvdd bs=1M seek=32 oflag=direct 2>/tmp/err || { bad="round $n: write failed: $(err)"; break; }
        got=$(dd if=/dev/xvdd bs=1M skip=32 count=4 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
        [ "$got" = "$want" ] || { bad="round $n: wrote $want, read $got"; break; }
        [ $n = 1 ] && mark xlu-point
        [ -n "$seen" ] && break
        xs_is data/bench-go restarted && seen=1
    done
    [ -n "$bad" ] || [ -n "$seen" ] || bad="no word 'restarted' from dom0 in $n rounds"
    if [ -z "$bad" ]; then mark xlu-check ok "$n rounds intact"; else mark xlu-check bad "$bad"; fi
}

# Print "fe=F be=B" for the disk with devid $1: its frontend's and its backend's xenstore
# state, both read by this guest (the backend's path is in its frontend's "backend" node).
xl_states() {
    fe=$(xenstore-read "device/vbd/$1/state" 2>/dev/null) || fe=none
    be=$(xenstore-read "$(xenstore-read "device/vbd/$1/backend" 2>/dev/null)/state" 2>/dev/null) || be=none
    echo "fe=$fe be=$be"
}

# Print "present" or "gone" for disk $1, and whether its data is what xl_rw wrote if present.
xl_disk_now() {
    if ! xl_present "$1"; then echo "disk=gone"; return; fi
    if [ "$(xl_md5 "$1")" = "$(cat "/tmp/$1.md5")" ]; then echo "disk=present data=intact"
    else echo "disk=present data=differs"; fi
}

# blkfront-reload, on dom0's word "reload": unbind blkfront from xvdc (xen-blkback) and xvdd
# (blkbackd) through the driver's sysfs, report the states both ends reach (marker xlb-unbind),
# bind again and report whether each disk came back (xlb-bind); then, on dom0's word
# "reattached" (xl block-detach and block-attach of both), check both disks' data (xlb-xvdc,
# xlb-xvdd).
xl_reload() {
    drv=/sys/bus/xen/drivers/vbd
    if ! wait_for 600 xs_is data/bench-go reload; then
        for m in xlb-unbind xlb-bind xlb-xvdc xlb-xvdd; do mark $m bad "no word 'reload' from dom0"; done
        return
    fi
    out=
    for d in xvdc:51744 xvdd:51760; do
        dev=${d%:*} id=${d#*:}
        echo "guest# echo vbd-$id > $drv/unbind   ($dev)"
        echo "vbd-$id" > $drv/unbind 2>/tmp/err || out="$out$dev unbind failed: $(err); "
        wait_for 30 xl_absent "$dev" || true
        # the frontend writes Closed itself; the backend answers (bounded wait)
        wait_for 20 eval "[ \"\$(xl_states $id)\" = 'fe=6 be=6' ]" || true
        out="$out$dev $(xl_states $id) $(xl_disk_now "$dev"); "
    done
    mark xlb-unbind "${out%; }"
    out=
    for d in xvdc:51744 xvdd:51760; do
        dev=${d%:*} id=${d#*:}
        echo "guest# echo vbd-$id > $drv/bind   ($dev)"
        echo "vbd-$id" > $drv/bind 2>/tmp/err || out="$out$dev bind failed: $(err); "
        wait_for 10 test -e "/sys/bus/xen/devices/vbd-$id/driver" || out="$out$dev not bound; "
    done
    # a disk whose ends reconnect comes back within a second or two here; give them 8 s
    wait_for 8 eval 'xl_present xvdc && xl_present xvdd' || true
    for d in xvdc:51744 xvdd:51760; do
        dev=${d%:*} id=${d#*:}
        out="$out$dev $(xl_states $id) $(xl_disk_now "$dev"); "
    done
    mark xlb-bind "${out%; }"
    if ! wait_for 300 xs_is data/bench-go reattached; then
        for m in xlb-xvdc xlb-xvdd; do mark $m bad "no word 'reattached' from dom0"; done
        return
    fi
    xl_again xvdc xlb-xvdc
    xl_again xvdd xlb-xvdd
}

# A fio round (fio-verify, nbd-guest, qcow2-guest), on dom0's word $1 (xenstore data/bench-go;
# data/fio-disks lists the disks it attached): on each, fio randrw with block sizes 512 B to
# 1 MiB, iodepth 16, O_DIRECT through io_uring, verify=crc32c over all it wrote. Marker $2-DISK:
# "ok" with fio's time and amounts, or bad with fio's exit status and its error lines; then
# $2-done, and $2-gone once dom0 has detached them all.
FIO_BSSPLIT=512/10:4k/25:16k/20:64k/20:256k/15:1m/10
xl_fio() {
    if ! wait_for 600 xs_is data/bench-go "$1"; then mark "$2-done" bad "no word '$1' from dom0"; return; fi
    disks=$(xenstore-read data/fio-disks 2>/dev/null)
    size=$(xenstore-read data/fio-size 2>/dev/null)
    for d in $disks; do
        if ! wait_for 60 xl_present "$d"; then mark "$2-$d" bad "no /dev/$d"; continue; fi
        echo "guest# fio --name=$d --filename=/dev/$d --ioengine=io_uring --direct=1 --rw=randrw --bssplit=$FIO_BSSPLIT --iodepth=16 --verify=crc32c --size=${size:-32M} --thread"
        centisecs; t0=$CS
        fio --name="$d" --filename="/dev/$d" --ioengine=io_uring --direct=1 --rw=randrw \
            --bssplit=$FIO_BSSPLIT --iodepth=16 --verify=crc32c --size="${size:-32M}" --thread \
            > /tmp/fio.out 2>&1
        rc=$?
        centisecs; t=$((CS - t0)); t=$((t / 100)).$((t % 100 / 10))s
        grep -E 'err=|READ:|WRITE:|issued rwts|verify|fio:' /tmp/fio.out | sed "s/^/guest: fio $d: /"
        # fio names each mismatch ("crc32c: verify failed at file ...", "bad magic header")
        bad=$(grep -ciE 'verify failed|bad magic|bad header|verify: ' /tmp/fio.out)
        rd=$(sed -n 's/^ *READ: .*io=\([^ ]*\) .*/\1/p' /tmp/fio.out)
        wr=$(sed -n 's/^ *WRITE: .*io=\([^ ]*\) .*/\1/p' /tmp/fio.out)
        if [ "$rc" = 0 ] && [ "$bad" = 0 ] && [ -n "$wr" ]; then
            mark "$2-$d" ok "$t, read $rd, wrote $wr, 0 verify errors"
        else
            mark "$2-$d" bad "fio exit $rc, $bad verify error lines, wrote ${wr:-nothing}: $(grep -iE 'verify|error|fio:' /tmp/fio.out | head -n3 | tr -s '\n' ' ' | cut -c1-250)"
        fi
    done
    mark "$2-done"
    for d in $disks; do
        wait_for 120 xl_absent "$d" || { mark "$2-gone" bad "$d still here 120 s after the word"; return; }
    done
    mark "$2-gone" ok
}

# The xl scenario's guest (dom0-xl.sh), booted by xl create with xvdb (blkbackd, named in the
# domain config) and xvdc (the kernel's xen-blkback): write and check both; then xvdd, which dom0
# attaches with xl block-attach, detaches and attaches again; fio on one disk per engine, then
# on an NBD export and on a qcow2 image;
# blkfront unbound and bound again
# from xvdc and xvdd, then both detached and attached from dom0; after xl save and restore, the
# data of xvdd and xvdc is checked; then dom0 reboots the guest (xl reboot) and the new boot
# checks xvdd; then it waits to be destroyed.
run_xl() {
    if [ "$(xenstore-read /bench-phase 2>/dev/null | cut -d' ' -f1)" = reboot ]; then
        xl_rebooted
        xl_restart_io
    else
        # xl reboot: the kernel runs /sbin/reboot, which (busybox) sends init SIGTERM
        trap 'mark xl-rebooting; reboot -f' TERM
        xl_rw xvdb xlc-xvdb
        xl_rw xvdc xlc-xvdc
        xl_rw xvdd xla-rw
        xl_gone xvdd xla-gone
        xl_again xvdd xla-again
        xl_fio fio xlf          # fio-verify: mem:, file:, uring:
        xl_fio fio-nbd xln      # nbd-guest: nbdkit's export in dom0
        xl_fio fio-qcow2 xlq    # qcow2-guest: a qcow2 image through qemu-storage-daemon
        xl_reload
        xl_before
        mark xls-ready
        xl_after restored xls-check
        xl_rw xvdb xlr-xvdb     # fresh data, so that the reboot's check cannot pass on zeroes
        mark xlr-ready "$(cat /tmp/xvdb.md5)"
    fi
    while :; do sleep 1; done
}

# The check scenario's xl guest on Xen 4.17: xvdb, a phy disk with script=blkbackd served by
# blkbackd --kind vbd, written and checked; then xvdc, which dom0 attaches with xl block-attach,
# detaches and attaches again; then wait to be destroyed.
run_xlvbd() {
    xl_rw xvdb xlv-xvdb
    xl_rw xvdc xlv-xvdc
    xl_gone xvdc xlv-gone
    xl_again xvdc xlv-again
    while :; do sleep 1; done
}

# The bench scenario's guest (dom0-bench.sh): disks of the kernel's xen-blkback and of
# blkbackd on the same storage, read by fio in turns on dom0's word, one sample a word.
# Print the interrupts this guest's blkfront took so far: every "blkif" line of
# /proc/interrupts (one per disk and queue; only the disk being measured is busy).
blkif_irqs() {
    awk '$NF == "blkif" { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' /proc/interrupts
}

# Print fio's options for bench job $1: qd32 (4 KiB random reads, depth 32), qd1 (the same at
# depth 1, for latency) or 1m (1 MiB sequential reads, depth 4: each is 8 blkif requests of
# 128 KiB with a stock blkfront's 32 indirect segments, so 32 requests fill the 32-slot ring).
xb_job() {
    case $1 in
    qd32) echo "--rw=randread --bs=4k --iodepth=32" ;;
    qd1) echo "--rw=randread --bs=4k --iodepth=1" ;;
    1m) echo "--rw=read --bs=1M --iodepth=4" ;;
    esac
}

# Print what fio's terse output (--minimal, file $1) says of the reads: error, KiB, IOPS,
# milliseconds and the completion latency's p50 and p99 in microseconds.
xb_terse() {
    awk -F';' '{ p50 = p99 = "none"
        for (i = 10; i <= NF; i++) {
            if (p50 == "none" && $i ~ /^50\.000000%=/) p50 = substr($i, 12)
            if (p99 == "none" && $i ~ /^99\.000000%=/) p99 = substr($i, 12)
        }
        print "err=" $5 " kb=" $6 " iops=" $8 " ms=" $9 " p50_us=" p50 " p99_us=" p99; exit }' "$1"
}

# Succeed once dom0's word in data/bench-go is new (its first field is not $1).
xb_new_word() { w=$(xenstore-read data/bench-go 2>/dev/null) && [ -n "$w" ] && [ "${w%% *}" != "$1" ]; }

# The bench guest: wait for the disks dom0 lists in data/xb-disks; copy the disk named first
# in data/xb-copy onto the second (brd's random bytes onto blkbackd's mem: disk, which only
# the guest can write), then mark xb-ready with each disk's md5 of its first 16 MiB (dom0
# checks that all read the same). Then for each word "N DISK JOB SECONDS" run fio JOB on DISK
# for SECONDS, O_DIRECT through io_uring, and mark xb-N with fio's results and the blkif
# interrupts taken meanwhile; until the word "end".
run_xbench() {
    wait_for 120 xs_has data/xb-disks || echo "guest: no data/xb-disks from dom0"
    disks=$(xenstore-read data/xb-disks 2>/dev/null)
    for d in $disks; do
        wait_for 120 xl_present "$d" || { mark xb-ready bad "no /dev/$d after 120 s"; while :; do sleep 1; done; }
    done
    set -- $(xenstore-read data/xb-copy 2>/dev/null)
    if [ $# = 2 ] && ! dd if="/dev/$1" of="/dev/$2" bs=1M iflag=direct oflag=direct 2>/tmp/err; then
        mark xb-ready bad "copying $1 onto $2 failed: $(err)"; while :; do sleep 1; done
    fi
    out=
    for d in $disks; do out="$out$d=$(xl_md5 "$d") "; done
    mark xb-ready ok "$out"
    last=none
    while wait_for 900 xb_new_word "$last"; do
        set -- $w
        last=$1
        [ "$1" = end ] && break
        i0=$(blkif_irqs)
        fio --name=xb --filename="/dev/$2" --ioengine=io_uring --direct=1 $(xb_job "$3") \
            --runtime="$4" --time_based --thread --minimal > /tmp/xb.out 2>/tmp/err
        rc=$?
        i1=$(blkif_irqs)
        if [ "$rc" = 0 ]; then mark "xb-$1" ok "$(xb_terse /tmp/xb.out) irq=$((i1 - i0))"
        else mark "xb-$1" bad "fio exit $rc: $(err | cut -c1-200)"; fi
    done
    mark xb-end
    while :; do sleep 1; done
}

# The guest of docs/xl.md's walkthrough (step xl-doc): its disks connect when blkfront loads;
# nothing more to do until dom0 destroys it.
run_xldoc() { while :; do sleep 1; done; }

# The demo: use the disk the way a user would, narrating each command.
run_demo() {
    await_disk size
    echo "guest: xvdb appeared ($(cat $SYS/size) sectors of 512 bytes)"
    say_run cat /proc/partitions
    say_run mkfs.ext4 -F $DISK
    say_run mount -t ext4 $DISK /mnt
    echo "guest# echo 'Hello from a disk served by blkbackd' > /mnt/hello.txt"
    echo 'Hello from a disk served by blkbackd' > /mnt/hello.txt
    say_run df -h /mnt
    say_run ls -l /mnt
    say_run cat /mnt/hello.txt
    say_run umount /mnt
    if fsck.ext4 -fn $DISK >/dev/null 2>&1; then mark demo ok; else mark demo bad fsck.ext4 found errors; fi
    await_gone gone
    shutdown_now
}

# The smoke test: no disk, just prove the guest runs.
run_smoke() {
    echo "guest: hello from $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s"
    mark smoke ok
    poweroff -f
}

# Print the "param=value" words that the kernel command line holds for module file $1 (as
# "name.param=value", e.g. xen_blkfront.max_indirect_segments=256): insmod does not read the
# command line, modprobe would.
module_params() {
    name=$(basename "$1" | sed 's/\.ko.*//' | tr - _)
    for w in $(cat /proc/cmdline); do
        case $w in "$name".*=*) echo "${w#"$name".}" ;; esac
    done
}

main() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    printf '#!/bin/sh\n: > /tmp/poweroff-requested\n' > /sbin/request-poweroff
    chmod 755 /sbin/request-poweroff
    echo /sbin/request-poweroff > /proc/sys/kernel/poweroff_cmd
    while read -r m; do insmod "/lib/modules/$(uname -r)/$m" $(module_params "$m"); done < /etc/bench-modules
    bench=$(sed -n 's/.*\bbench=\([^ ]*\).*/\1/p' /proc/cmdline)
    case $bench in
    check1 | check2 | check3 | demo | smoke | xl | xlvbd | xldoc | xbench) "run_$bench" ;;
    *) echo "guest: unknown bench=$bench" ;;
    esac
    poweroff -f
}

main
