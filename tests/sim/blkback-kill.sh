#!/usr/bin/env bash
# A guest killed in the middle of its I/O: its frontend dies with requests in flight and the
# domain is destroyed. blkbackd must let go of everything of that guest (grant mappings,
# event channel, fds, the device), stay up, and keep serving another guest whose verify
# workload runs meanwhile.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

bk_sim victim bystander
fds0=$(fd_count "$BK_PID")

bk_ctl attach bystander mem:size=64M --vdev xvdb --nowait
bk_ctl attach victim mem:size=64M --vdev xvdb --nowait
fe_bg "$XENSIM_DIR/bystander.log" bystander verify xvdb --seed 3 --iodepth 8 --passes 3
by=$FE_PID
fe_bg "$XENSIM_DIR/victim.log" victim bench xvdb --rw randwrite --iodepth 32 --runtime 60
victim=$FE_PID

# Kill the victim once blkbackd has served it a good number of writes.
victim_busy() { [ "$(bk_stat victim xvdb wr_req 2>/dev/null || echo 0)" -ge 2000 ]; }
wait_for 30 victim_busy || fail "the victim's writes never reached blkbackd"
victim_id=$(xensim list | awk '$2 == "victim" { print $1 }')
kill -KILL "$victim"
wait "$victim" 2>/dev/null
xensim destroy victim

# blkbackd drops the dead guest's disk (its own list, not xenstore's, which the toolstack
# empties at once), and dom0 keeps no page of it mapped.
victim_gone() { bk_ctl stats "$victim_id" xvdb 2>&1 | grep -q "blkbackd serves no xvdb"; }
wait_for 10 victim_gone || fail "blkbackd still serves the destroyed guest's disk: $(bk_ctl stats)"
wait "$by" || { cat "$XENSIM_DIR/bystander.log"; fail "the bystander's verify failed"; }
bk_ctl detach bystander xvdb
maps=$(counter Domain-0 maps) unmaps=$(counter Domain-0 unmaps)
echo "dom0 mapped $maps grant pages and unmapped $unmaps"
[ "$maps" -eq "$unmaps" ] || fail "dom0 still maps $((maps - unmaps)) guest pages"
fds1=$(fd_count "$BK_PID")
[ "$fds1" -eq "$fds0" ] || { ls -l "/proc/$BK_PID/fd"; fail "blkbackd had $fds0 fds, now $fds1"; }
bk_serving || fail "blkbackd no longer answers"
echo "victim killed mid-I/O; blkbackd clean and the bystander unaffected"
