#!/usr/bin/env bash
# Bad rbd disks through the daemon: a malformed spec is refused by blkbackctl before
# anything is written; a pool or image that does not exist, a snapshot that does not, and a
# monitor that does not answer (within the spec's timeout) fail the attach with a clear
# error naming the image; nothing is left behind (no device, no fd, no cluster connection),
# and a good rbd disk attached afterwards serves.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib-rbd.sh"
rbd_cluster rbd-bad-input
rbdc create --size 16M rbd/good || fail "rbd create failed"
mon=$CEPH_MON_HOST
read -r p1 p2 < <(_ceph_free_ports)
dead="[v2:127.0.0.1:$p1,v1:127.0.0.1:$p2]"

bk_sim guest1
# A first good disk, so that librados's own threads are there before the fds are counted.
bk_ctl attach guest1 "rbd:rbd/good,mon_host=$mon" --vdev xvdb --nowait >/dev/null || fail "attach failed"
bk_ctl detach guest1 xvdb --timeout 10 >/dev/null || fail "detach failed"
fds0=$(fd_count "$BK_PID")

# Refused by blkbackctl's own parse: nothing reaches xenstore.
for spec in "rbd:good" "rbd:rbd/good,bogus=1" "rbd:rbd/good,conf=relative" "rbd:rbd/a@b@c"; do
	expect_fail bk_ctl attach guest1 "$spec" --vdev xvdc
	expect_out "rbd"
	[[ $OUT == *"could not serve"* ]] && fail "'$spec' reached blkbackd: $OUT"
done
echo "malformed specs refused by blkbackctl: $(head -c 120 <<<"$OUT")..."

# Refused by the open, in blkbackd, with the cluster's reason.
check_refused() {
	local spec=$1 want=$2
	expect_fail bk_ctl attach guest1 "$spec" --vdev xvdc --timeout 60
	expect_out "could not serve xvdc"
	expect_out "$want"
	OUT=$(bk_ctl list) || fail "blkbackctl list failed"
	[[ $OUT != *xvdc* ]] || fail "'$spec' left a device behind: $OUT"
}
check_refused "rbd:nopool/x,mon_host=$mon" "rbd:nopool/x: no such pool 'nopool'"
check_refused "rbd:rbd/nosuch,mon_host=$mon" "rbd:rbd/nosuch: no such image in pool 'rbd'"
check_refused "rbd:rbd/good@nosnap,mon_host=$mon" "no such image or snapshot"
check_refused "rbd:rbd/good,mon_host=$dead,timeout=3" "cannot connect to the Ceph cluster (mon_host $dead) within 3 s"
echo "no pool, no image, no snapshot and a dead monitor: refused, nothing left"

fds_back() { [ "$(fd_count "$BK_PID")" -le "$fds0" ]; }
wait_for 10 fds_back || { ls -l "/proc/$BK_PID/fd"; fail "blkbackd had $fds0 fds, now $(fd_count "$BK_PID")"; }
bk_ctl attach guest1 "rbd:rbd/good,mon_host=$mon" --vdev xvdd --nowait >/dev/null || fail "a good attach failed afterwards"
fe guest1 verify xvdd --seed 4 >/dev/null || fail "the good disk does not serve"

# A module built against other headers of the same version (a field added to the spec) is
# refused, naming the layouts, instead of reading the spec's fields at the wrong place.
mkdir -p "$dir/abi/storage" "$dir/abi/blkback" "$dir/abi/engines"
cp "$REPO"/storage/*.h "$REPO"/storage/rbd.c "$dir/abi/storage/" && cp "$REPO"/blkback/*.h "$dir/abi/blkback/" ||
	fail "cannot copy the sources"
sed -i 's/^\tbool readonly;/\tbool readonly;\n\tuint64_t another_field;/' "$dir/abi/storage/storage.h"
grep -q another_field "$dir/abi/storage/storage.h" || fail "cannot make the other layout"
${CC:-cc} -std=gnu11 -D_GNU_SOURCE -fPIC -shared -o "$dir/abi/engines/rbd.so" "$dir/abi/storage/rbd.c" \
	-lrbd -lrados || fail "cannot build the other module"
expect_fail env BLKBACKD_ENGINE_DIR="$dir/abi/engines" "$BUILD/blkbackctl" attach guest1 "rbd:rbd/good,mon_host=$mon"
expect_out "was built against other headers than this blkbackd"
echo "a module of another layout: refused"
echo "PASS rbd-bad-input"
