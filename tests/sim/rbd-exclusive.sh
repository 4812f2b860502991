#!/usr/bin/env bash
# The exclusive writer of an rbd image: blkbackd holds the image's exclusive lock while it
# serves it read-write, so a second read-write attach of the same image (here, to another
# guest of the same daemon) is refused at once with an error naming the image and the
# lock, and nothing of it is left behind; another client's write is refused too; a
# read-only attach is served beside the writer; the first guest's disk goes on serving,
# and once it is detached the second attach succeeds. An ordinary client that was writing
# first (librbd's default lock policy hands the lock over when asked) is fenced instead:
# the attach takes the lock, and that client's next write fails with EROFS.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib-rbd.sh"
rbd_cluster rbd-exclusive
rbdc create --size 64M rbd/x || fail "rbd create failed"
rbdc create --size 64M rbd/y || fail "rbd create failed"
spec="rbd:rbd/x,mon_host=$CEPH_MON_HOST"

bk_sim guest1 guest2

# Another client writing rbd/y when blkbackd attaches it: fenced, not refused.
rbd -c "$CEPH_CONF" bench --io-type write --io-size 4K --io-threads 1 --io-total 1G \
	--io-pattern rand rbd/y >"$dir/first.log" 2>&1 &
bench=$!
cleanup_add "kill $bench 2>/dev/null; wait $bench 2>/dev/null"
benching() { grep -q "MiB/s" "$dir/first.log"; }
wait_for 30 benching || fail "rbd bench did not start writing: $(cat "$dir/first.log")"
bk_ctl attach guest1 "rbd:rbd/y,mon_host=$CEPH_MON_HOST" --vdev xvdc --nowait >/dev/null ||
	fail "the attach of an image another client writes failed"
wait "$bench" && fail "the first client wrote on after blkbackd took the lock: $(cat "$dir/first.log")"
grep -q "Read-only file system" "$dir/first.log" || fail "the first client ended otherwise: $(tail -3 "$dir/first.log")"
fe guest1 verify xvdc --size 8M --seed 5 >/dev/null || fail "the fencing disk does not serve"
bk_ctl detach guest1 xvdc --timeout 10 >/dev/null || fail "detach of rbd/y failed"
echo "a client writing first was fenced: $(grep -m1 'Read-only' "$dir/first.log")"

bk_ctl attach guest1 "$spec" --vdev xvdb --nowait >/dev/null || fail "the first attach failed"
fe guest1 verify xvdb --size 8M --seed 1 >/dev/null || fail "the first guest's verify failed"

expect_fail bk_ctl attach guest2 "$spec" --vdev xvdb --timeout 30
expect_out "rbd/x"
expect_out "exclusive lock"
echo "second writer refused: $(grep -o 'rbd:rbd/x: the image is in use[^"]*' <<<"$OUT" | head -1)"
grep -q "rbd/x: the image is in use" "$BK_LOG" || fail "the refusal is not in blkbackd's log"
expect_out "could not serve xvdb to domain"
OUT=$(bk_ctl list) || fail "blkbackctl list failed: $OUT"
[[ $OUT != *guest2* ]] || fail "the refused disk was left behind: $OUT"

# Another client's write is refused while blkbackd holds the lock.
if timeout 60 rbd -c "$CEPH_CONF" bench --io-type write --io-size 4K --io-total 64K rbd/x \
	>"$dir/bench.log" 2>&1; then
	fail "another client wrote the image beside blkbackd: $(cat "$dir/bench.log")"
fi
echo "another client's write refused: $(grep -m1 -i 'error\|fail' "$dir/bench.log")"

# A reader beside the writer, and the writer unharmed.
bk_ctl attach guest2 "$spec,ro" --vdev xvdc --nowait >/dev/null || fail "a read-only attach failed"
fe guest1 verify xvdb --size 8M --seed 1 --mode read >/dev/null ||
	fail "the first guest's disk lost its data after the refusals"
fe guest1 verify xvdb --size 8M --seed 2 >/dev/null || fail "the first guest's disk stopped serving"
fe guest2 verify xvdc --size 8M --seed 2 --mode read >/dev/null ||
	fail "the read-only disk does not read what the writer wrote"

# Once the writer lets go, the image can be attached read-write elsewhere.
bk_ctl detach guest1 xvdb --timeout 10 >/dev/null || fail "detach of the writer failed"
bk_ctl detach guest2 xvdb --timeout 10 --force >/dev/null 2>&1
bk_ctl attach guest2 "$spec" --vdev xvdd --nowait >/dev/null ||
	fail "the image cannot be attached read-write after the writer detached"
fe guest2 verify xvdd --size 8M --seed 2 --mode read >/dev/null || fail "the new writer reads other data"
echo "PASS rbd-exclusive"
