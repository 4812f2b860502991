# The xl scenario's fio-verify step (sourced by dom0-xl.sh, which defines G, D, tap_disk,
# timed, guest_word, no_device_nodes and blocklist_state). The guest's side is xl_fio in
# guest.sh; its fio is the static one tests/xen/fio-build.sh builds into the cache.

# One disk per blkbackd engine: "VDEV DEVID TARGET", each of FIO_DISK_SIZE.
FIO_DISKS=("xvdh 51824 mem:size=64M" "xvdi 51840 file:/srv/fio-file.img"
    "xvdj 51856 uring:/srv/fio-uring.img,direct")
FIO_DISK_SIZE=64M
FIO_SIZE=64M          # what fio covers of each disk (its --size): the whole disk
FIO_LIMIT=420         # seconds for the guest's three fio runs (~20-40 s seen; a guard)

# fio-verify: xl block-attach a disk of each engine (mem:, file:, uring: with O_DIRECT); the
# guest runs fio randrw on each, block sizes 512 B to 1 MiB, iodepth 16, verify=crc32c:
# fio must exit 0 with no verify error on every disk. Then xl block-detach of all three,
# which must leave no node of them and the guest without them, as before the step.
step_fio() {
    local why= d v id target attached= t0 t1
    truncate -s "$FIO_DISK_SIZE" /srv/fio-file.img /srv/fio-uring.img ||
        why+="cannot make the image files under /srv; "
    for d in "${FIO_DISKS[@]}"; do
        read -r v id target <<<"$d"
        if timed "fio-attach-$v" xl block-attach "$G" "$(tap_disk "$v" "$target")"; then
            attached+=" $v"
        else
            why+="xl block-attach of $target as $v failed: $(oneline "/tmp/fio-attach-$v.log"); "
        fi
    done
    xenstore-write "/local/domain/$D/data/fio-disks" "${attached# }" &&
        xenstore-write "/local/domain/$D/data/fio-size" "$FIO_SIZE" ||
        why+="cannot write the guest's data/fio-disks; "
    guest_word fio
    now_ms; t0=$NOW_MS
    wait_mark "$G" xlf-done "$FIO_LIMIT" || why+="no xlf-done from the guest within $FIO_LIMIT s; "
    now_ms; t1=$NOW_MS
    echo "dom0: the guest's fio runs took $(((t1 - t0) / 1000)) s"
    for d in "${FIO_DISKS[@]}"; do
        read -r v id target <<<"$d"
        echo "dom0: guest says: xlf-$v ($target) $(guest_mark "$G" "xlf-$v")"
        [[ $(guest_mark "$G" "xlf-$v") == ok* ]] || why+="$v ($target): $(guest_mark "$G" "xlf-$v"); "
    done
    for v in $attached; do
        timed "fio-detach-$v" xl block-detach "$G" "$v" || why+="xl block-detach $v failed: $(oneline "/tmp/fio-detach-$v.log"); "
    done
    for d in "${FIO_DISKS[@]}"; do
        read -r v id target <<<"$d"
        wait_for 10 no_device_nodes "$D" "$id" || why+="xenstore keeps $v's nodes after its detach; "
        [ -z "$(blocklist_state "$id")" ] || why+="xl block-list still shows $v; "
    done
    wait_mark "$G" xlf-gone 130 || true
    [[ $(guest_mark "$G" xlf-gone) == ok* ]] || why+="guest: xlf-gone $(guest_mark "$G" xlf-gone); "
    rm -f /srv/fio-file.img /srv/fio-uring.img
    if [ -z "$why" ]; then pass fio-verify; else fail fio-verify "${why%; }"; fi
}
