#!/usr/bin/env bash
# The userspace blkfront's own commands in the simulator: the messages and exit codes of a
# missing vbd and a bad command line; info; write and read back byte for byte; verify over
# passes and re-verify; a verify that must fail, with each kind of bad block named; bench in
# text and JSON, inside and outside the simulator's counters.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3 cmp

# Run blkfront in guest1, keeping its output in $OUT and its exit status in $RC.
fe_rc() { RC=0; OUT=$(fe guest1 "$@" 2>&1) || RC=$?; }
expect_rc() { [ "$RC" -eq "$1" ] || fail "expected exit $1, got $RC: $OUT"; }

bk_sim guest1

# No vbd yet: say so, and how to get one; exit 1. A bad command line exits 2.
fe_rc info xvdb
expect_rc 1
expect_out "no vbd 51728 (xvdb)"
expect_out "blkbackctl attach"
fe_rc bench xvdb --rw sideways
expect_rc 2
expect_out "bad --rw 'sideways'"
fe_rc read xvdb 100 512
expect_rc 2
fe_rc frobnicate
expect_rc 2

bk_ctl attach guest1 mem:size=16M --vdev xvdb --nowait
fe_rc info xvdb --indirect-segs 0
expect_rc 0
expect_out "size: 16777216 bytes (16M)"
expect_out "sector-size: 512"
expect_out "discard: yes"
expect_out "ring: order 4 (backend max 4), 512 requests"
expect_out "slots: 64 (max request 45056 bytes)"
# With indirect descriptors (32 segments by default), fewer slots fit gntalloc's 1024 pages.
fe_rc info xvdb
expect_rc 0
expect_out "indirect-segments: backend 256, in use 32"
expect_out "slots: 30 (max request 131072 bytes)"

# Bytes in and out: a whole-sector write, and a tail that write pads with zeroes.
head -c 300k /dev/urandom >"$XENSIM_DIR/data"
fe guest1 write xvdb 1M <"$XENSIM_DIR/data" || fail "write failed"
fe guest1 read xvdb 1M 300k >"$XENSIM_DIR/back" || fail "read failed"
cmp "$XENSIM_DIR/data" "$XENSIM_DIR/back" || fail "read back differs from what was written"
printf 'hello' | fe guest1 write xvdb 2M 2>"$XENSIM_DIR/pad.log" || fail "short write failed"
grep -q "padded" "$XENSIM_DIR/pad.log" || fail "no word of the padding: $(cat "$XENSIM_DIR/pad.log")"
fe guest1 read xvdb 2M 512 | head -c 5 | grep -q hello || fail "the padded write did not land"
fe_rc read xvdb 16M 512
expect_rc 2
expect_out "past the end of the disk"

# verify: two passes (seeds 9 and 10), then the last seed re-checked in another chunking.
fe_rc verify xvdb --seed 9 --size 4M --bs-min 512 --bs-max 96k --iodepth 32 --passes 2
expect_rc 0
expect_out "all 16384 blocks good"
fe_rc verify xvdb --seed 10 --size 4M --mode read
expect_rc 0

# Damage three blocks: a copy of sector 8 over sector 16 (misdirected), zeroes over
# sector 24 (never written), a flipped byte in sector 32 (corrupt).
fe guest1 read xvdb 4096 512 >"$XENSIM_DIR/blk8" || fail "read of sector 8 failed"
fe guest1 write xvdb 8192 <"$XENSIM_DIR/blk8" || fail "misdirect failed"
head -c 512 /dev/zero | fe guest1 write xvdb 12288 || fail "zeroing failed"
fe guest1 read xvdb 16384 512 | python3 -c '
import sys; b = bytearray(sys.stdin.buffer.read()); b[100] ^= 1; sys.stdout.buffer.write(b)' \
	>"$XENSIM_DIR/blk32"
fe guest1 write xvdb 16384 <"$XENSIM_DIR/blk32" || fail "corrupting failed"
fe_rc verify xvdb --seed 10 --size 4M --mode read
expect_rc 3
expect_out "sector 16: wrong sector (misdirected) (holds the block of sector 8)"
expect_out "sector 24: never written"
expect_out "sector 32: corrupt"
expect_out "3 bad blocks of 8192"
fe_rc verify xvdb --seed 3 --size 64k --mode read
expect_rc 3
expect_out "wrong seed (holds seed 10"

# bench: text and JSON; outside the simulator's counters the per-request figures are null.
fe_rc bench xvdb --rw randrw --bs 8k --iodepth 8 --runtime 0.5
expect_rc 0
expect_out "IOPS"
expect_out "grant maps"
RC=0
OUT=$(xensim run guest1 -- env -u XENSIM_DIR "$BUILD/blkfront" bench xvdb --rw write \
	--runtime 0.3 --json 2>&1) || RC=$?
expect_rc 0
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["grant_maps_per_req"] is None
assert r["notify_per_req"] is None and r["requests"] > 0 and r["rw"] == "write", r' "$OUT" ||
	fail "bench --json outside the simulator: $OUT"
fe_rc bench xvdb --bs 64k --indirect-segs 0
expect_rc 2
expect_out "indirect"
fe_rc bench xvdb --bs 2M --indirect-segs 256
expect_rc 2
expect_out "at most 1048576 bytes"
echo "blkfront: info, read, write, verify and bench behave"
