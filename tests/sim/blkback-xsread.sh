#!/usr/bin/env bash
# A xenstore read that fails is not a node that is gone. While a guest's disk is Connected
# and busy, `xensim xs-fault` makes single reads fail with EIO: of the backend's state, of
# its online node, of the frontend's state, and of the guest's /local/domain/<id> when
# another domain dies. Each time blkbackd says it will read again, and the disk stays
# Connected, served and in xenstore; only the domain that died loses its disk.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

bk_sim guest1 guest2
id1=$(xensim list | awk '$2 == "guest1" {print $1}')
id2=$(xensim list | awk '$2 == "guest2" {print $1}')
be=/local/domain/0/backend/vbd3/$id1/51728
fe=/local/domain/$id1/device/vbd/51728
bk_ctl attach guest1 mem:size=16M --vdev xvdb --nowait
bk_ctl attach guest2 mem:size=16M --vdev xvdb --nowait

# Write ($1 PATH $2 VALUE) or read ($1 PATH) a xenstore node from dom0 (xs_wire.h).
xs() {
	if [ $# -gt 1 ]; then
		sim_run Domain-0 python3 "$here/xs-raw.py" write "$1" "$2"
	else
		sim_run Domain-0 python3 "$here/xs-raw.py" read "$1"
	fi
}

fe_bg "$XENSIM_DIR/bench.log" guest1 bench xvdb --rw randrw --iodepth 4 --runtime 600
bench=$FE_PID
cleanup_add "kill $bench 2>/dev/null"
served() { [ "$(bk_stat guest1 xvdb rd_req 2>/dev/null || echo 0)" -gt "$1" ]; }
wait_for 30 served 100 || fail "the guest's I/O never reached blkbackd"

# The disk is still Connected, known to blkbackd, and serves new requests.
still_served() {
	local n
	[ "$(xs "$be/state")" = 4 ] || fail "after $1 the backend is not Connected: $(xs "$be/state")"
	[ "$(xs "$fe/state")" = 4 ] || fail "after $1 the frontend is not Connected"
	! grep -q "d$id1 xvdb: device \(released\|removed\)" "$BK_LOG" ||
		fail "after $1 blkbackd let go of the disk: $(grep "d$id1 xvdb" "$BK_LOG" | tail -n 5)"
	n=$(bk_stat guest1 xvdb rd_req)
	wait_for 30 served "$n" || fail "after $1 the disk serves no more requests"
	echo "after $1: still Connected and served"
}

# How many times blkbackd said it would read a node of guest1's disk again.
retries() { grep -c "d$id1 xvdb: cannot read .* from xenstore: Input/output error; trying again" \
	"$BK_LOG"; }
more_retries() { [ "$(retries)" -gt "$1" ]; }

# One failed read at a time, each followed by a change under the backend's directory
# (the watch event makes blkbackd read its nodes).
n=0
for node in "$be/state" "$be/online" "$fe/state"; do
	n=$((n + 1))
	before=$(retries)
	xensim xs-fault "$node" EIO 1
	xs "$be/poke" "$n"
	wait_for 20 grep -q "xs-fault: dom0 read $node -> EIO (0 left)" "$SIM_LOG" ||
		fail "blkbackd never read $node"
	wait_for 20 more_retries "$before" || fail "blkbackd did not say it reads $node again"
	still_served "a failed read of $node"
done

# Several failed reads in a row are read again later and later: 50, 100, 200 ms.
xensim xs-fault "$be/state" EIO 3
xs "$be/poke" again
wait_for 20 grep -q "xs-fault: dom0 read $be/state -> EIO (0 left)" "$SIM_LOG" ||
	fail "blkbackd did not read $be/state three times"
wait_for 20 grep -q "d$id1 xvdb: cannot read .*; trying again in 200 ms" "$BK_LOG" ||
	fail "no third try, 200 ms after the second"
still_served "three failed reads of $be/state"

# guest2 dies while guest1's domain directory cannot be read: only guest2's disk goes.
xensim xs-fault "/local/domain/$id1" EIO 1
xensim destroy guest2
wait_for 20 grep -q "d$id2 xvdb: device removed" "$BK_LOG" || fail "guest2's disk stayed"
wait_for 20 grep -q "xs-fault: dom0 read /local/domain/$id1 -> EIO" "$SIM_LOG" ||
	fail "blkbackd did not look for guest1's domain"
wait_for 20 grep -q "backend: cannot read /local/domain/$id1 from xenstore: Input/output error; trying again" \
	"$BK_LOG" || fail "blkbackd did not say it looks for guest1's domain again"
still_served "a failed read of /local/domain/$id1 while guest2 died"
echo "every failed read was read again; guest1's disk stayed Connected throughout"
