#!/usr/bin/env bash
# Online resize of an rbd disk: an image resized by another client (rbd resize) while a
# guest has it connected reaches the guest as blkbackctl resize does (sectors rewritten,
# then state, in xenstore: what Linux blkfront watches), the new space is served, and a
# frontend that connects afterwards sees the new size; blkbackctl resize of an rbd disk
# resizes the image itself.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib-rbd.sh"
XSR=$(xen_tool xenstore-read) || exit 77
rbd_cluster rbd-resize
rbdc create --size 64M rbd/r1 || fail "rbd create failed"

bk_sim guest1
dom=$(xensim list | awk '$2 == "guest1" { print $1 }')
be=/local/domain/0/backend/vbd3/$dom/51728
xsr() { xensim run guest1 -- "$XSR" "$be/$1" 2>/dev/null; }
bk_ctl attach guest1 "rbd:rbd/r1,mon_host=$CEPH_MON_HOST" --vdev xvdb --nowait >/dev/null ||
	fail "attach failed"
OUT=$(fe guest1 info xvdb) || fail "info failed: $OUT"
expect_out "size: 67108864 bytes"

# A guest connected and busy on the disk (two queues, which share the image's completions)
# while another client grows the image.
fe_bg "$dir/verify.log" guest1 verify xvdb --size 4M --passes 100000 --seed 3 --queues 2
connected() { [ "$(xsr state)" = 4 ] && grep -q "xvdb: .*Connected" "$BK_LOG"; }
wait_for 30 connected || fail "the frontend did not connect: $(cat "$dir/verify.log")"
grep -q "xvdb: .*Connected (2 queues" "$BK_LOG" || fail "the guest did not get two queues: $(grep Connected "$BK_LOG")"
rbdc resize --size 96M rbd/r1 >/dev/null 2>&1 || fail "rbd resize failed"
grown() { [ "$(xsr sectors)" = $((96 * 2048)) ]; }
wait_for 30 grown || fail "sectors is $(xsr sectors) 30 s after rbd resize to 96M"
grep -q "resized by another client" "$BK_LOG" || fail "blkbackd did not say why it resized"
grep -q "resized to $((96 << 20)) bytes" "$BK_LOG" || fail "no 'resized to' in blkbackd's log"
[ "$(xsr state)" = 4 ] || fail "backend state $(xsr state) after the resize"
kill -0 "$FE_PID" 2>/dev/null || fail "the guest's verify ended during the resize: $(cat "$dir/verify.log")"
kill "$FE_PID"
wait "$FE_PID" 2>/dev/null
grep -q "bad\|error" "$dir/verify.log" && fail "the guest's verify saw errors: $(cat "$dir/verify.log")"
echo "rbd resize to 96M while connected: sectors $((96 * 2048)), state rewritten, verify running"

# A frontend that connects now sees 96 MiB, and the grown space is served.
OUT=$(fe guest1 info xvdb) || fail "info after the resize failed: $OUT"
expect_out "size: 100663296 bytes"
head -c 8192 /dev/urandom >"$dir/tail.bin"
fe guest1 write xvdb 95M 8192 <"$dir/tail.bin" >/dev/null || fail "write past the old end failed"
fe guest1 read xvdb 95M 8192 >"$dir/back.bin" || fail "read past the old end failed"
cmp -s "$dir/tail.bin" "$dir/back.bin" || fail "the grown space reads back other bytes"

# blkbackctl resize of an rbd disk resizes the image.
OUT=$(bk_ctl resize guest1 xvdb 128M) || fail "blkbackctl resize failed: $OUT"
rbdc info rbd/r1 | grep -q "size 128 MiB" || fail "the image is $(rbdc info rbd/r1 | grep size)"
OUT=$(fe guest1 info xvdb) || fail "info after blkbackctl resize failed: $OUT"
expect_out "size: 134217728 bytes"
bk_serving || fail "blkbackd stopped answering"
bk_ctl detach guest1 xvdb --timeout 10 --force >/dev/null || fail "detach failed"
echo "PASS rbd-resize"
