#!/usr/bin/env bash
# An nbd: disk across the daemon's own restarts (docs/restart.md): blkbackd is killed
# (SIGKILL) under a simulated guest's verified I/O on an NBD export (nbdkit's file plugin on
# a Unix socket, writes slowed by the delay filter so that the kill lands among them), and
# the next blkbackd takes the disk over, connects to the server again and re-does what was
# in flight; then a handover, as for an upgrade, the same. The guest's verify passes, no
# request answered it with an error, what it wrote is in the file, and the server saw the
# dead daemon's connections close (no connection of a daemon that is gone stays open:
# counted as the server's open sockets).
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-nbd.sh"
requires python3

nbd_setup
truncate -s 64M "$NBD_DIR/disk.img"
# One thread per connection (-t 1): nbdkit 1.32's threads of one connection race when the
# client goes away in the middle of replies ("raw_send_socket: Assertion `sock >= 0'
# failed", nbdkit aborts), which a killed blkbackd is.
nbd_server data -t 1 --filter=delay file "$NBD_DIR/disk.img" delay-write=2ms
bk_sim guest1
bk_ctl attach guest1 "nbd:$(nbd_uri data),timeout=60" --vdev xvdb --nowait >/dev/null ||
	fail "attach failed"

# Connections the server has open now: its sockets, less the one it listens on.
open_conns() {
	local n p
	p=$(nbd_pid data)
	[ -d "/proc/$p/fd" ] || { echo "nbdkit (pid $p) is gone: $(tr '\n' ' ' < "$NBD_DIR/data.log")"; return; }
	n=$(ls -l "/proc/$p/fd" | grep -c "socket:")
	echo $((n - 1))
}

# Succeed if the server has at least $1 connections open.
conns_at_least() { local n; n=$(open_conns); [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge "$1" ]; }

fe_bg "$XENSIM_DIR/verify.log" guest1 verify xvdb --seed 31 --iodepth 16 --passes 6 --queues 2
vpid=$FE_PID
written() { [ "$(bk_stat guest1 xvdb wr_sect)" -ge "$1" ]; }
wait_for 60 written 8192 || { cat "$XENSIM_DIR/verify.log"; fail "the guest wrote nothing"; }
conns_at_least 2 || fail "the server has $(open_conns) connections from blkbackd, want one per queue"
kill -KILL "$BK_PID"
wait "$BK_PID" 2>/dev/null
BK_PID=
echo "blkbackd killed under the guest's writes"
# The kernel closes a dead process's sockets: the server sees every connection go.
none_open() { [ "$(open_conns)" = 0 ]; }
wait_for 20 none_open || fail "the server still has $(open_conns) connections of the killed blkbackd"
bk_start
took() { grep -q "xvdb: took over from an earlier blkbackd" "$BK_LOG"; }
wait_for 30 took || { tail -n 20 "$BK_LOG"; fail "the next blkbackd did not take over the nbd disk"; }
wait_for 30 written 16384 ||
	{ tail -n 20 "$BK_LOG"; fail "the guest's writes did not go on after the take-over"; }
kill -0 "$vpid" 2>/dev/null || fail "the guest's verify ended before the handover: give it more to do"

# A handover: the old daemon leaves (its connections closed), the next one serves.
conns_at_least 2 || fail "the server has $(open_conns) connections from the new blkbackd, want one per queue"
bk_handover
wait_for 20 none_open || fail "the server still has $(open_conns) connections after the handover"
bk_start
bk_verify_through "$vpid" "the kill and the handover"
fe guest1 verify xvdb --seed 36 --mode read >/dev/null || fail "the export lost what the guest wrote"
bk_ctl detach guest1 xvdb >/dev/null || fail "detach failed"
wait_for 20 none_open || fail "the server still has $(open_conns) connections after the detach"
bk_stop
echo "PASS nbd-handover"
