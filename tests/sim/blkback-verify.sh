#!/usr/bin/env bash
# blkbackd serves a mem, a file and an io_uring disk to two simulated guests at once; in each
# guest the userspace blkfront writes a seeded pattern over its whole disk, at queue depth 16,
# and reads every block back. Then the backend's counters must add up and the file images must
# hold what the guests wrote.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

bk_sim guest1 guest2
img=$XENSIM_DIR/images
mkdir -p "$img"
truncate -s 48M "$img/file.img" "$img/uring.img"
bk_ctl attach guest1 mem:size=64M --vdev xvdb --nowait
bk_ctl attach guest1 "uring:$img/uring.img" --vdev xvdc --nowait
bk_ctl attach guest2 "file:$img/file.img" --vdev xvdb --nowait

# Three verify workloads at once, each with its own seed.
fe_bg "$XENSIM_DIR/v1.log" guest1 verify xvdb --seed 11 --iodepth 16; p1=$FE_PID
fe_bg "$XENSIM_DIR/v2.log" guest1 verify xvdc --seed 12 --iodepth 16; p2=$FE_PID
fe_bg "$XENSIM_DIR/v3.log" guest2 verify xvdb --seed 13 --iodepth 16; p3=$FE_PID
for p in "$p1:v1:guest1 xvdb (mem)" "$p2:v2:guest1 xvdc (uring)" "$p3:v3:guest2 xvdb (file)"; do
	IFS=: read -r pid log what <<<"$p"
	wait "$pid" || { cat "$XENSIM_DIR/$log.log"; fail "verify on $what failed"; }
done
echo "verify passed on all three disks"

# Each disk saw the whole disk written and read, and answered nothing with an error.
for d in "guest1 xvdb 131072" "guest1 xvdc 98304" "guest2 xvdb 98304"; do
	set -- $d
	[ "$(bk_stat "$1" "$2" wr_sect)" -ge "$3" ] || fail "$1 $2: fewer than $3 sectors written"
	[ "$(bk_stat "$1" "$2" rd_sect)" -ge "$3" ] || fail "$1 $2: fewer than $3 sectors read"
	[ "$(bk_stat "$1" "$2" err_req)" -eq 0 ] || fail "$1 $2: error responses"
done

# The guests disconnected; detach everything and dom0 holds no guest page any more.
bk_ctl detach guest1 xvdb
bk_ctl detach guest1 xvdc
bk_ctl detach guest2 xvdb
maps=$(counter Domain-0 maps) unmaps=$(counter Domain-0 unmaps)
echo "dom0 mapped $maps grant pages and unmapped $unmaps"
[ "$maps" -gt 0 ] && [ "$maps" -eq "$unmaps" ] || fail "dom0 maps $maps != unmaps $unmaps"

# The file engines wrote through to the images: dom0 reads guest2's pattern from the file.
xensim create checker >/dev/null
bk_ctl attach checker "file:$img/file.img,ro" --vdev xvdb --nowait
fe checker verify xvdb --seed 13 --mode read || fail "file.img lost guest2's data"
bk_ctl attach checker "uring:$img/uring.img,ro" --vdev xvdc --nowait
fe checker verify xvdc --seed 12 --mode read || fail "uring.img lost guest1's data"
echo "images hold the guests' data"
