# A fresh single-node Ceph cluster for one test: sourced after tests/helpers.sh, never run.
#   ceph_start DIR       one mon and one OSD under DIR (no auth, 127.0.0.1 only, free ports),
#                        a pool "rbd" ready for images; stopped by pid at exit. The OSD keeps
#                        its objects in memory (memstore), or with CEPH_STORE=bluestore in a
#                        sparse file under DIR (for an OSD killed and started again: memstore
#                        loses what it holds when killed)
#   ceph_osd_kill        SIGKILL the OSD and wait until the process is gone
#   ceph_osd_start       start it again and wait until the mon sees it up
#   ceph_stop            stop everything by pid; idempotent
#   cephc ARGS...        the ceph CLI on this cluster; rbdc ARGS...: the rbd CLI
#   CEPH_MON_HOST        the mon address for a spec: mon_host=... (v2 and v1 form)
#   CEPH_CONF            the cluster's ceph.conf
# Skips (77) when the Ceph daemons are not installed (tools/install-deps.sh installs them).
CEPH_DIR= CEPH_CONF= CEPH_MON_HOST= CEPH_OSD_ID= CEPH_OSD_UUID=

# Two free TCP ports on 127.0.0.1, found by binding to port 0.
_ceph_free_ports() {
	python3 - <<-'EOF'
	import socket
	s = [socket.socket() for _ in range(2)]
	for x in s:
	    x.bind(("127.0.0.1", 0))
	print(*[x.getsockname()[1] for x in s])
	EOF
}

cephc() { timeout 30 ceph -c "$CEPH_CONF" "$@"; }
rbdc() { timeout 30 rbd -c "$CEPH_CONF" "$@"; }

# Whether the OSD is up in the osd map.
_ceph_osd_up() { cephc osd dump 2>/dev/null | grep -q "^osd\.$CEPH_OSD_ID up"; }

# The ceph.conf lines of the OSD's object store: memstore unless CEPH_STORE=bluestore.
_ceph_store_conf() {
	if [ "${CEPH_STORE:-memstore}" = bluestore ]; then
		printf '%s\n' "osd objectstore = bluestore" "bluestore block create = true" \
			"bluestore block size = 2147483648" "bluestore fsck on mount = false"
	else
		# Without page set, sparse writes fill real zeroes (100 4 KiB writes: 214 MiB).
		printf '%s\n' "osd objectstore = memstore" "memstore device bytes = 2147483648" \
			"memstore page set = true" "memstore page size = 4096"
	fi
}

# Start the cluster under $1.
ceph_start() {
	local p1 p2 fsid
	requires ceph-mon ceph-osd ceph rbd monmaptool python3
	CEPH_DIR=$1
	mkdir -p "$CEPH_DIR"/mon "$CEPH_DIR"/osd "$CEPH_DIR"/run "$CEPH_DIR"/log
	read -r p2 p1 < <(_ceph_free_ports) || fail "cannot find free ports"
	fsid=$(cat /proc/sys/kernel/random/uuid)
	CEPH_CONF=$CEPH_DIR/ceph.conf
	CEPH_MON_HOST="[v2:127.0.0.1:$p2,v1:127.0.0.1:$p1]"
	cat >"$CEPH_CONF" <<-EOF
	[global]
	fsid = $fsid
	mon host = $CEPH_MON_HOST
	public addr = 127.0.0.1
	cluster addr = 127.0.0.1
	ms bind ipv6 = false
	auth cluster required = none
	auth service required = none
	auth client required = none
	run dir = $CEPH_DIR/run
	admin socket = $CEPH_DIR/run/\$name.asok
	pid file = $CEPH_DIR/run/\$name.pid
	log file = $CEPH_DIR/log/\$name.log
	mon data = $CEPH_DIR/mon/\$id
	osd data = $CEPH_DIR/osd/\$id
	$(_ceph_store_conf)
	osd pool default size = 1
	osd pool default min size = 1
	mon allow pool size one = true
	osd crush chooseleaf type = 0
	osd pool default pg autoscale mode = off
	mon warn on pool no redundancy = false
	mon warn on insecure global id reclaim allowed = false
	# A killed client's watch (and so its exclusive lock) lapses after 5 s, not 30.
	osd client watch timeout = 5
	[client]
	# The CLI's notes (no keyring: cephx disabled) are noise here; its errors still show.
	log to stderr = false
	err to stderr = false
	EOF
	cleanup_add ceph_stop
	monmaptool --create --fsid "$fsid" --addv a "$CEPH_MON_HOST" "$CEPH_DIR/monmap" \
		>/dev/null || fail "monmaptool failed"
	ceph-mon -c "$CEPH_CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap" ||
		fail "ceph-mon --mkfs failed"
	ceph-mon -c "$CEPH_CONF" -i a || fail "ceph-mon did not start"
	wait_for 30 test -s "$CEPH_DIR/run/mon.a.pid" || fail "ceph-mon wrote no pid file"
	CEPH_OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
	CEPH_OSD_ID=$(cephc osd new "$CEPH_OSD_UUID") || fail "ceph osd new failed (mon not up?)"
	mkdir -p "$CEPH_DIR/osd/$CEPH_OSD_ID"
	ceph-osd -c "$CEPH_CONF" -i "$CEPH_OSD_ID" --mkfs --osd-uuid "$CEPH_OSD_UUID" \
		>"$CEPH_DIR/log/osd-mkfs.log" 2>&1 || { cat "$CEPH_DIR/log/osd-mkfs.log"; fail "ceph-osd --mkfs failed"; }
	ceph_osd_start
	cephc osd pool create rbd 8 8 replicated >/dev/null 2>&1 || fail "cannot create pool rbd"
	rbdc pool init rbd || fail "rbd pool init failed"
}

# Whether the OSD process says it is active (booted into the osd map), on its admin socket.
_ceph_osd_active() {
	timeout 10 ceph --admin-daemon "$CEPH_DIR/run/osd.$CEPH_OSD_ID.asok" status 2>/dev/null |
		grep -q '"state": "active"'
}

# Start the OSD and wait until it is active and the mon has it up (a killed OSD stays up
# in the map until it boots again: the process's own word is what counts).
ceph_osd_start() {
	rm -f "$CEPH_DIR/run/osd.$CEPH_OSD_ID.pid"
	ceph-osd -c "$CEPH_CONF" -i "$CEPH_OSD_ID" >>"$CEPH_DIR/log/osd-start.log" 2>&1 ||
		{ cat "$CEPH_DIR/log/osd-start.log"; fail "ceph-osd did not start"; }
	wait_for 30 test -s "$CEPH_DIR/run/osd.$CEPH_OSD_ID.pid" || fail "ceph-osd wrote no pid file"
	wait_for 30 _ceph_osd_active || fail "osd.$CEPH_OSD_ID not active after 30 s"
	wait_for 30 _ceph_osd_up || fail "osd.$CEPH_OSD_ID not up after 30 s"
}

# SIGKILL the OSD; wait for the process to be gone.
ceph_osd_kill() {
	local pid
	pid=$(cat "$CEPH_DIR/run/osd.$CEPH_OSD_ID.pid") || fail "no OSD pid file"
	kill -KILL "$pid"
	wait_for 10 eval "! kill -0 $pid 2>/dev/null" || fail "OSD $pid survived SIGKILL"
}

# Stop the daemons by their pid files (SIGKILL: their state is thrown away anyway).
ceph_stop() {
	local f pid
	[ -n "$CEPH_DIR" ] || return 0
	for f in "$CEPH_DIR"/run/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
		wait_for 10 eval "! kill -0 $pid 2>/dev/null" || echo "warning: ceph pid $pid survived" >&2
		rm -f "$f"
	done
}
