#!/usr/bin/env bash
# The limits one guest cannot pass to hurt the others (docs/security.md):
#  - --mem-limit: a guest filling its ramdisk gets ENOSPC on its own writes; another
#    guest's ramdisk keeps its data and is still served; a new ramdisk is refused with
#    a message naming --mem-limit; the memory comes back when the ramdisk goes.
#  - --grant-pages-domain / --grant-pages, set tight: two guests verifying file disks
#    with deep queues of large requests wait for room, and every request succeeds.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

sim_start
for g in hog bystander; do xensim create "$g" >/dev/null || fail "cannot create $g"; done
bk_start --mem-limit 8M --grant-pages-domain 1024 --grant-pages 1536
data=$XENSIM_DIR/data back=$XENSIM_DIR/back
head -c 1M /dev/urandom >"$data"

# 1 MiB for the bystander, 7 MiB for the hog: the limit, exactly.
bk_ctl attach bystander mem:size=16M --vdev xvdb --nowait
fe bystander write xvdb 0 <"$data" || fail "the bystander's first write failed"
bk_ctl attach hog mem:size=64M --vdev xvdb --nowait
for i in 0 1 2 3 4 5 6; do
	fe hog write xvdb "${i}M" <"$data" || fail "the hog's write of MiB $i, within the limit, failed"
done
expect_fail fe hog write xvdb 32M 4096 <"$data"
expect_out "an I/O error"
grep -q "storage failed request op 1, sector 65536 +8: No space left on device" "$BK_LOG" ||
	fail "no log line says the hog's write failed with ENOSPC"
fe hog write xvdb 0 <"$data" || fail "the hog cannot rewrite what it holds at the limit"
fe bystander read xvdb 0 1M >"$back" || fail "the bystander cannot read at the limit"
cmp -s "$data" "$back" || fail "the bystander's data changed"
fe bystander write xvdb 0 <"$data" || fail "the bystander cannot rewrite what it holds"
bk_ctl attach bystander mem:size=1M --vdev xvdc --nowait >/dev/null 2>&1
refused() { grep -q "all the memory blkbackd's --mem-limit allows them (8 MiB)" "$BK_LOG"; }
wait_for 20 refused || fail "no ramdisk was refused at the limit, naming --mem-limit"
bk_ctl detach bystander xvdc >/dev/null 2>&1
bk_serving || fail "blkbackd no longer answers at the limit"
echo "mem: at 8 MiB the hog's new page failed with ENOSPC, rewrites and the bystander went on," \
	"a new ramdisk was refused"

bk_ctl detach hog xvdb
fe bystander verify xvdb --seed 3 --size 6M --passes 1 >/dev/null ||
	fail "the bystander cannot write new pages once the hog's ramdisk is gone"
echo "mem: the hog's memory came back when its ramdisk was detached"

# Tight grant budgets: 4 MiB per guest, 6 MiB in all, against 1 MiB requests 32 deep
# (on file disks: the ramdisks' memory is spent).
bk_ctl detach bystander xvdb
for g in hog bystander; do
	truncate -s 32M "$XENSIM_DIR/$g.img"
	bk_ctl attach "$g" "file:$XENSIM_DIR/$g.img" --vdev xvdc --nowait
done
log_h=$XENSIM_DIR/hog.log log_b=$XENSIM_DIR/bystander.log
fe_bg "$log_h" hog verify xvdc --seed 5 --iodepth 32 --bs 1M --passes 2
pid_h=$FE_PID
fe_bg "$log_b" bystander verify xvdc --seed 6 --iodepth 32 --bs 1M --passes 2
pid_b=$FE_PID
wait "$pid_h" || fail "the hog's verify failed under tight grant budgets: $(tail -n 3 "$log_h")"
wait "$pid_b" ||
	fail "the bystander's verify failed under tight grant budgets: $(tail -n 3 "$log_b")"
for g in hog bystander; do
	errs=$(bk_stat "$g" xvdc err_req)
	[ "$errs" -eq 0 ] || fail "$g counts $errs failed requests under the grant budgets"
	held=$(bk_stat "$g" xvdc oo_req)
	echo "$g: $held sweeps held back"
	bk_ctl detach "$g" xvdc
done
maps=$(counter Domain-0 maps) unmaps=$(counter Domain-0 unmaps)
[ "$maps" -eq "$unmaps" ] || fail "dom0 still maps $((maps - unmaps)) guest pages"
bk_serving || fail "blkbackd no longer answers"
echo "grants: two guests verified with 1 MiB requests 32 deep under 1024 pages each," \
	"1536 in all: no request failed"
