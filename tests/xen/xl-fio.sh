# The xl scenario's fio steps (sourced by dom0-xl.sh, which defines G, D, tap_disk, timed,
# guest_word, no_device_nodes and blocklist_state): fio-verify (a disk of each local engine),
# nbd-guest (an NBD export of nbdkit in dom0) and qcow2-guest (a qcow2 image, which blkbackd
# serves through a qemu-storage-daemon it starts). The guest's side is xl_fio in guest.sh;
# its fio is the static one tests/xen/fio-build.sh builds into the cache.

# One disk per blkbackd engine: "VDEV DEVID TARGET", each of FIO_DISK_SIZE.
FIO_DISKS=("xvdh 51824 mem:size=64M" "xvdi 51840 file:/srv/fio-file.img"
    "xvdj 51856 uring:/srv/fio-uring.img,direct")
FIO_DISK_SIZE=64M
FIO_SIZE=64M          # what fio covers of each disk (its --size): the whole disk
FIO_LIMIT=420         # seconds for the guest's three fio runs (~20-40 s seen; a guard)
NBD_SOCK=/run/nbd-guest.sock   # nbdkit's socket for nbd-guest
QCOW2_IMG=/srv/guest.qcow2     # the image of qcow2-guest
NET_DISK_SIZE=32M              # nbd-guest's export and qcow2-guest's image; fio covers it all

# One fio round: xl block-attach of disks $3... ("VDEV DEVID TARGET"), the guest's fio verify
# on each on word $1 (its markers $2-VDEV, $2-done and $2-gone), then xl block-detach of all,
# which must leave no node of them and the guest without them. Reasons go to FIO_WHY. The word
# goes to the guest even when no disk attached, so that it moves on. FIO_ON_ATTACH, if set,
# names a command run once the attaches are done.
fio_round() {
    local word=$1 m=$2 d v id target attached= t0 t1
    shift 2
    for d; do
        read -r v id target <<<"$d"
        if timed "fio-attach-$v" xl block-attach "$G" "$(tap_disk "$v" "$target")"; then
            attached+=" $v"
        else
            FIO_WHY+="xl block-attach of $target as $v failed: $(oneline "/tmp/fio-attach-$v.log"); "
        fi
    done
    [ -z "${FIO_ON_ATTACH:-}" ] || "$FIO_ON_ATTACH"
    xenstore-write "/local/domain/$D/data/fio-disks" "${attached# }" &&
        xenstore-write "/local/domain/$D/data/fio-size" "$FIO_SIZE" ||
        FIO_WHY+="cannot write the guest's data/fio-disks; "
    guest_word "$word"
    now_ms; t0=$NOW_MS
    wait_mark "$G" "$m-done" "$FIO_LIMIT" || FIO_WHY+="no $m-done from the guest within $FIO_LIMIT s; "
    now_ms; t1=$NOW_MS
    echo "dom0: the guest's fio runs took $(((t1 - t0) / 1000)) s"
    for d; do
        read -r v id target <<<"$d"
        echo "dom0: guest says: $m-$v ($target) $(guest_mark "$G" "$m-$v")"
        [[ $(guest_mark "$G" "$m-$v") == ok* ]] || FIO_WHY+="$v ($target): $(guest_mark "$G" "$m-$v"); "
    done
    for v in $attached; do
        timed "fio-detach-$v" xl block-detach "$G" "$v" ||
            FIO_WHY+="xl block-detach $v failed: $(oneline "/tmp/fio-detach-$v.log"); "
    done
    for d; do
        read -r v id target <<<"$d"
        wait_for 10 no_device_nodes "$D" "$id" || FIO_WHY+="xenstore keeps $v's nodes after its detach; "
        [ -z "$(blocklist_state "$id")" ] || FIO_WHY+="xl block-list still shows $v; "
    done
    wait_mark "$G" "$m-gone" 130 || true
    [[ $(guest_mark "$G" "$m-gone") == ok* ]] || FIO_WHY+="guest: $m-gone $(guest_mark "$G" "$m-gone"); "
}

# Print PASS $1, or FAIL $1 with the reasons gathered in FIO_WHY.
fio_verdict() { if [ -z "$FIO_WHY" ]; then pass "$1"; else fail "$1" "${FIO_WHY%; }"; fi; }

# fio-verify: xl block-attach a disk of each engine (mem:, file:, uring: with O_DIRECT); the
# guest runs fio randrw on each, block sizes 512 B to 1 MiB, iodepth 16, verify=crc32c:
# fio must exit 0 with no verify error on every disk. Then xl block-detach of all three,
# which must leave no node of them and the guest without them, as before the step.
step_fio() {
    FIO_WHY=
    truncate -s "$FIO_DISK_SIZE" /srv/fio-file.img /srv/fio-uring.img ||
        FIO_WHY+="cannot make the image files under /srv; "
    fio_round fio xlf "${FIO_DISKS[@]}"
    rm -f /srv/fio-file.img /srv/fio-uring.img
    fio_verdict fio-verify
}

# nbd-guest: nbdkit in dom0 serves a 32 MiB memory export on a Unix socket; xl block-attach
# names it (target=nbd:nbd+unix:///?socket=...) as xvdk; the guest's fio verify on it as in
# fio-verify; xl block-detach leaves nothing, and nbdkit still runs (blkbackd's connection
# went without harm to the server) until it is stopped by its pid.
step_nbd_guest() {
    local pid
    FIO_WHY=
    rm -f "$NBD_SOCK"
    echo "dom0# nbdkit -f --unix $NBD_SOCK memory $NET_DISK_SIZE &"
    nbdkit -f --unix "$NBD_SOCK" memory "$NET_DISK_SIZE" > /tmp/nbdkit.log 2>&1 &
    pid=$!
    if wait_for 10 test -S "$NBD_SOCK"; then
        echo "dom0: nbdkit pid $pid serves $NBD_SOCK ($(pid_rss "$pid") KiB resident)"
    else
        FIO_WHY+="nbdkit made no socket $NBD_SOCK in 10 s: $(oneline /tmp/nbdkit.log); "
    fi
    FIO_SIZE=$NET_DISK_SIZE fio_round fio-nbd xln "xvdk 51872 nbd:nbd+unix:///?socket=$NBD_SOCK"
    if kill -0 "$pid" 2>/dev/null; then
        echo "dom0: nbdkit pid $pid: $(pid_rss "$pid") KiB resident after the guest's fio; stopping it"
        kill "$pid" 2>/dev/null || true
    else
        FIO_WHY+="nbdkit (pid $pid) is gone after the detach: $(oneline /tmp/nbdkit.log); "
    fi
    wait "$pid" 2>/dev/null || true
    rm -f "$NBD_SOCK"
    fio_verdict nbd-guest
}

# Print the resident KiB of process $1.
pid_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# Print the pids of the qemu-storage-daemons that run now (comm is cut to 15 bytes).
qsd_pids() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = qemu-storage-da ] && echo "${p#/proc/}"
    done
    return 0
}

# After qcow2-guest's attach: one qemu-storage-daemon more than before (QSD_BEFORE) serves
# QCOW2_IMG (its command line names it).
qsd_serving() {
    local p n=0
    for p in $(qsd_pids); do
        grep -qw "$p" <<<"$QSD_BEFORE" && continue
        n=$((n + 1))
        tr '\0' ' ' < "/proc/$p/cmdline" | grep -qF "filename=$QCOW2_IMG" ||
            FIO_WHY+="qemu-storage-daemon $p does not serve $QCOW2_IMG: $(tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-200); "
        echo "dom0: qemu-storage-daemon pid $p ($(pid_rss "$p") KiB resident) serves $QCOW2_IMG for blkbackd"
    done
    [ "$n" = 1 ] || FIO_WHY+="$n new qemu-storage-daemons run with xvdl attached, want 1; "
}

# qcow2-guest: a 32 MiB qcow2 image made with qemu-img under /srv; xl block-attach names it
# (target=qcow2:/srv/guest.qcow2) as xvdl, and blkbackd starts a qemu-storage-daemon for it;
# the guest's fio verify on it as in fio-verify; xl block-detach leaves nothing and stops
# that qemu-storage-daemon; qemu-img check then finds the image clean, holding the data
# the guest wrote.
step_qcow2_guest() {
    local used
    FIO_WHY=
    QSD_BEFORE=$(qsd_pids)
    echo "dom0# qemu-img create -f qcow2 $QCOW2_IMG $NET_DISK_SIZE"
    qemu-img create -q -f qcow2 "$QCOW2_IMG" "$NET_DISK_SIZE" > /tmp/qemu-img.log 2>&1 ||
        FIO_WHY+="qemu-img create failed: $(oneline /tmp/qemu-img.log); "
    FIO_ON_ATTACH=qsd_serving FIO_SIZE=$NET_DISK_SIZE fio_round fio-qcow2 xlq "xvdl 51888 qcow2:$QCOW2_IMG"
    wait_for 10 eval '[ "$(qsd_pids)" = "$QSD_BEFORE" ]' ||
        FIO_WHY+="a qemu-storage-daemon ($(qsd_pids)) still runs after the detach; "
    if qemu-img check -q "$QCOW2_IMG" > /tmp/qemu-img.log 2>&1; then
        used=$(qemu-img info "$QCOW2_IMG" 2>/dev/null | sed -n 's/^disk size: //p')
        echo "dom0: qemu-img check: $QCOW2_IMG is clean after the detach; it takes $used"
    else
        FIO_WHY+="qemu-img check of $QCOW2_IMG after the detach failed: $(oneline /tmp/qemu-img.log); "
    fi
    rm -f "$QCOW2_IMG" || true
    fio_verdict qcow2-guest
}
