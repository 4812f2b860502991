#!/usr/bin/env bash
# The rbd engine's conformance (tests/sim/rbd-conformance.c) against a fresh single-node
# Ceph cluster (tests/lib-ceph.sh): read/write/verify, flush, discards down to one sector,
# two queues, resize by us and by another client, the exclusive writer, a read-only
# snapshot, and specs and opens that must be refused (no module, no pool, no image, a
# monitor that does not answer, within the timeout asked for).
. "$(dirname "$0")/../helpers.sh"
. "$REPO/tests/sim/lib-rbd.sh"
prog=$BUILD/tests/sim/rbd-conformance
[ -x "$prog" ] || fail "$prog is not built: make run-sim builds it"
rbd_cluster rbd-conformance
rbdc create --size 64M rbd/conf || fail "rbd create failed"
rbdc create --size 8M --image-feature layering rbd/nolock || fail "rbd create nolock failed"
# A snapshot whose bytes are known: an image imported from a file, then overwritten.
head -c 4M /dev/urandom >"$dir/snap.bin"
rbdc import --no-progress "$dir/snap.bin" rbd/snapimg || fail "rbd import failed"
rbdc snap create rbd/snapimg@s1 >/dev/null 2>&1 || fail "rbd snap create failed"
rbdc bench --io-type write --io-size 64K --io-total 4M rbd/snapimg >/dev/null ||
	fail "cannot overwrite rbd/snapimg"
read -r p1 p2 < <(_ceph_free_ports)
"$prog" "$CEPH_MON_HOST" "$CEPH_CONF" "$dir/snap.bin" "[v2:127.0.0.1:$p1,v1:127.0.0.1:$p2]" ||
	fail "rbd-conformance failed"
echo "PASS rbd-conformance"
