#!/usr/bin/env bash
# blkbackctl attach never reports success for a disk blkbackd refused: 1000 attaches that the
# daemon cannot serve (missing files, a directory, a character device, an empty image, a
# ramdisk name not yet made), half with --nowait, each exit 1 with the daemon's reason and
# leave no backend or frontend node behind. Then the sizes list and attach print for a disk
# of 1 TiB and more (sparse ramdisks), and what stats says of a disk that is not there.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

RUNS=${BLKBACKCTL_REFUSED_RUNS:-1000}
bk_sim guest1
dom=$(xensim list | awk '$2 == "guest1" { print $1 }')
be=/local/domain/0/backend/vbd3/$dom
fe=/local/domain/$dom/device/vbd
empty=$XENSIM_DIR/empty.img
: >"$empty"
specs=(file:/nonexistent uring:/nonexistent/x file:/tmp file:/dev/null "file:$empty"
       mem:name=nosuch file:/nonexistent,ro)
reasons=("cannot open /nonexistent" "/nonexistent/x" "cannot open /tmp: Is a directory" "/dev/null"
	 "is empty" "no ramdisk named 'nosuch'" "cannot open /nonexistent")

# Print those of the xenstore paths $@ that exist, as dom0 sees them (xs_wire.h READ).
xs_present() {
	xensim run Domain-0 -- python3 - "$@" <<'PY'
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(os.environ["XENSTORED_PATH"])
def recv(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("xenstored closed the connection")
        b += c
    return b
for rid, path in enumerate(sys.argv[1:], 1):
    p = path.encode() + b"\0"
    s.sendall(struct.pack("<IIII", 2, rid, 0, len(p)) + p)	# XS_READ
    typ, _, _, n = struct.unpack("<IIII", recv(16))
    body = recv(n)
    if typ == 2:
        print(path)
    elif body.rstrip(b"\0") != b"ENOENT":	# XS_ERROR
        sys.exit("read %s: %s" % (path, body))
PY
}

# Write value $2 to xenstore path $1 as dom0 (xs_wire.h WRITE).
xs_write() {
	xensim run Domain-0 -- python3 - "$@" <<'PY'
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(os.environ["XENSTORED_PATH"])
p = sys.argv[1].encode() + b"\0" + sys.argv[2].encode()
s.sendall(struct.pack("<IIII", 11, 1, 0, len(p)) + p)	# XS_WRITE
typ, _, _, n = struct.unpack("<IIII", s.recv(16))
sys.exit(0 if typ == 11 else "write %s failed" % sys.argv[1])
PY
}

for ((i = 0; i < RUNS; i++)); do
	k=$((i % ${#specs[@]}))
	nowait=()
	((i % 2)) && nowait=(--nowait)
	rc=0
	OUT=$(bk_ctl attach guest1 "${specs[k]}" --vdev xvdb "${nowait[@]}" 2>&1) || rc=$?
	[ "$rc" -eq 1 ] || fail "run $i: attach ${specs[k]} ${nowait[*]} exited $rc, not 1: $OUT"
	expect_out "blkbackd could not serve xvdb to domain $dom (guest1): "
	expect_out "${reasons[k]}"
done
# Nothing is left: no backend directory for the guest, no frontend node for the disk.
left=$(xs_present "$be" "$be/51728" "$be/51728/state" "$be/51728/error" "$fe/51728" \
	"$fe/51728/state") || fail "cannot read xenstore"
[ -z "$left" ] || fail "nodes left behind: $left"
[ -z "$(bk_ctl list | tail -n +2)" ] || fail "list shows disks: $(bk_ctl list)"

# Sizes of 1 TiB and more: attach and list print them, before and after the guest connects.
bk_ctl attach guest1 mem:size=2T --vdev xvdb --nowait
[ "$(xs_present "$be/51728")" = "$be/51728" ] || fail "xs_present does not see an attached disk"
OUT=$(bk_ctl list)
expect_out "$(printf "%-8s %-13s %-13s %10s  %-4s" xvdb InitWait Initialising 2T rw)"
# Without --nowait attach waits for the guest: a frontend that stays connected meanwhile.
bk_ctl attach guest1 mem:size=3T,ro --vdev xvdc >"$XENSIM_DIR/attach3t.log" 2>&1 &
ATT=$!
fe_nodes() { [ -n "$(xs_present "$fe/51744/state")" ]; }
wait_for 20 fe_nodes || fail "attach wrote no frontend nodes: $(cat "$XENSIM_DIR/attach3t.log")"
fe_bg "$XENSIM_DIR/hold.log" guest1 bench xvdc --rw read --size 1M --runtime 120
wait "$ATT" || fail "attach of 3T failed: $(cat "$XENSIM_DIR/attach3t.log")"
OUT=$(cat "$XENSIM_DIR/attach3t.log")
expect_out "as xvdc: 3145728 MiB, read-only"
# list and stats say what the disk is: read-only, its ABI, states, spec and last error.
xs_write "$be/51744/error" "a test error"
OUT=$(bk_ctl list)
expect_out "$(printf "%-8s %-13s %-13s %10s  %-4s %-11s %s" xvdc Connected Connected 3T ro \
	x86_64-abi mem:size=3T,ro)"
expect_out "error: a test error"
bk_ctl stats guest1 xvdc --json | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
want = dict(readonly=True, abi="x86_64-abi", backend_state="Connected", size=3 << 40,
            frontend_state="Connected", spec="mem:size=3T,ro", error="a test error")
bad = {k: d.get(k) for k in want if d.get(k) != want[k]}
sys.exit("stats --json: %s" % bad if bad else 0)' || fail "stats of xvdc is wrong"
OUT=$(bk_ctl stats guest1 xvdc)
expect_out "$(printf "%-4s %-10s %-12s %-12s %s" ro x86_64-abi Connected Connected \
	mem:size=3T,ro)"
expect_out "error: a test error"
kill "$FE_PID"
wait "$FE_PID" 2>/dev/null

# stats of a disk blkbackd does not serve fails, saying so.
rc=0
OUT=$(bk_ctl stats guest1 xvdz 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "stats of a missing disk exited $rc: $OUT"
expect_out "blkbackd serves no xvdz to domain $dom"
OUT=$(bk_ctl stats guest1 xvdz --json 2>&1) && fail "stats --json of a missing disk passed: $OUT"
bk_ctl detach guest1 xvdb >/dev/null
echo "ok: $RUNS refused attaches, each failed and left nothing; sizes >= 1 TiB shown"
