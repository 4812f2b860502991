#!/usr/bin/env bash
# The NBD server dies under a simulated guest's verified I/O and comes back: nbdkit's file
# plugin on a Unix socket (writes slowed by the delay filter, so that the kill lands among
# them) is killed (SIGKILL) while the guest writes, then started again on the same socket
# with the same file. blkbackd holds the requests meanwhile, shows the disk reconnecting in
# blkbackctl stats, and sends them again on the new connection: the guest's verify passes,
# no request answered it with an error, and what it wrote is in the file.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-nbd.sh"
requires python3

nbd_setup
truncate -s 64M "$NBD_DIR/disk.img"
nbd_server data --filter=delay file "$NBD_DIR/disk.img" delay-write=10ms
bk_sim guest1
bk_ctl attach guest1 "nbd:$(nbd_uri data),timeout=60" --vdev xvdb --nowait >/dev/null ||
	fail "attach failed"

# Two passes of 64 MiB, written and read back on two queues (nbdkit offers multi-conn: a
# connection each): the server dies while the first writes.
fe_bg "$XENSIM_DIR/verify.log" guest1 verify xvdb --seed 21 --iodepth 16 --passes 2 --queues 2
vpid=$FE_PID
written() { [ "$(bk_stat guest1 xvdb wr_sect)" -ge "$1" ]; }
wait_for 60 written 16384 || { cat "$XENSIM_DIR/verify.log"; fail "the guest wrote nothing"; }
nbd_kill data
echo "killed nbdkit after $(bk_stat guest1 xvdb wr_sect) sectors written"
lost() { grep -q "connection lost" "$BK_LOG"; }
wait_for 20 lost || fail "blkbackd did not notice the server go"
[ "$(bk_ctl stats guest1 xvdb --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["link"])')" \
	= reconnecting ] || fail "stats does not show the disk reconnecting"

nbd_server data --filter=delay file "$NBD_DIR/disk.img" delay-write=10ms
back() { grep -q "reconnected after" "$BK_LOG"; }
wait_for 30 back || { tail -n 20 "$BK_LOG"; fail "blkbackd did not reconnect"; }
grep "reconnected after" "$BK_LOG"
bk_verify_through "$vpid" "the restart"
[ "$(bk_stat guest1 xvdb reconnects)" -ge 1 ] || fail "stats counts no reconnect"

# What the guest's last pass wrote (seed 22) is in the file itself.
bk_ctl detach guest1 xvdb >/dev/null || fail "detach failed"
bk_ctl attach guest1 "file:$NBD_DIR/disk.img,ro" --vdev xvdc --nowait >/dev/null ||
	fail "attach of the image failed"
fe guest1 verify xvdc --seed 22 --mode read || fail "the image does not hold what the guest wrote"
echo "PASS nbd-server-restart"
