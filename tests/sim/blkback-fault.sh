#!/usr/bin/env bash
# Faulty storage (fault=START+COUNT:KIND on sectors 2048..2055) breaks only the I/O it touches.
#  - eio, enospc, short: a guest's read or write there fails (half a transfer too: blkbackd
#    must not answer OKAY for it), the rest of that disk works and keeps its data, and only
#    that disk counts the errors.
#  - stall: a read there waits, as on a hung NFS server, while everything else goes on: the
#    same guest's other disk, a bystander's verify, attaching and detaching other disks, and
#    a guest that dies with its read stalled (the daemon's main thread never waits for
#    storage long: a resize of the stalled disk gives up after 5 s and says why).
#    blkbackctl unstall then lets the read finish, with the file's bytes, the disk can be
#    resized, and the dead guest's disk is let go with nothing left mapped.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

bk_sim victim bystander other doomed
data=$XENSIM_DIR/data back=$XENSIM_DIR/back
head -c 1M /dev/urandom >"$data"

victim_id=$(xensim list | awk '$2 == "victim" { print $1 }')

# The failing kinds: a 16 MiB ramdisk each, written around the faulty range first.
vd=(xvdb xvdc xvdd)
kinds=(eio enospc short)
for i in 0 1 2; do
	v=${vd[$i]} kind=${kinds[$i]}
	bk_ctl attach victim "mem:size=16M,fault=2048+8:$kind" --vdev "$v" --nowait
	fe victim write "$v" 0 <"$data" || fail "$kind: the write before the range failed"
	fe victim write "$v" 1032K <"$data" || fail "$kind: the write after the range failed"
	expect_fail fe victim read "$v" 1M 4096
	expect_out "an I/O error"
	expect_fail fe victim read "$v" 1020K 8K	# straddles the start of the range
	head -c 512 "$data" >"$back"
	expect_fail fe victim write "$v" 1027K <"$back"	# the range's last sector
	expect_out "an I/O error"
	fe victim read "$v" 0 1M >"$back" || fail "$kind: reading before the range failed"
	cmp -s "$data" "$back" || fail "$kind: the data before the range changed"
	fe victim read "$v" 1032K 1M >"$back" || fail "$kind: reading after the range failed"
	cmp -s "$data" "$back" || fail "$kind: the data after the range changed"
	errs=$(bk_stat victim "$v" err_req)
	[ "$errs" -eq 3 ] || fail "$kind: $v counts $errs failed requests, want 3"
	# Logged for the administrator, but not once per failure: at most one per 10 s.
	logged=$(grep -c "d$victim_id $v: storage failed request op [01], sector 20[0-9][0-9]" "$BK_LOG")
	[ "$logged" -ge 1 ] && [ "$logged" -le 3 ] ||
		fail "$kind: $logged log lines for 3 storage errors on $v, want 1 to 3"
	echo "$kind: 3 requests touching the range failed; the rest of $v is served and intact"
done

# stall: a file disk that holds reads of sectors 2048..2055, and a ramdisk beside it.
img=$XENSIM_DIR/stall.img
head -c 16M /dev/urandom >"$img"
bk_ctl attach victim "file:$img,fault=2048+8:stall" --vdev xvde --nowait
bk_ctl attach victim mem:size=16M --vdev xvdf --nowait
bk_ctl attach bystander mem:size=64M --vdev xvdb --nowait
cp "$img" "$img.doomed"	# a file has one writer: the doomed guest has its own
bk_ctl attach doomed "file:$img.doomed,fault=2048+8:stall" --vdev xvdb --nowait
out=$XENSIM_DIR/stalled.out err=$XENSIM_DIR/stalled.err
"$BUILD/xensim" run victim -- "$BUILD/blkfront" read xvde 1M 4096 >"$out" 2>"$err" &
reader=$!
"$BUILD/xensim" run doomed -- "$BUILD/blkfront" read xvdb 1M 4096 >/dev/null 2>&1 &
doomed_reader=$!
stalled() { [ "$(bk_stat "$1" "$2" inflight 2>/dev/null)" = 1 ]; }
wait_for 20 stalled victim xvde || fail "the read of the stalled sectors never reached blkbackd"
wait_for 20 stalled doomed xvdb || fail "the doomed guest's read never reached blkbackd"

# The doomed guest dies with its read held: blkbackd must not wait for it to go on.
doomed_id=$(xensim list | awk '$2 == "doomed" { print $1 }')
kill -KILL "$doomed_reader"
wait "$doomed_reader" 2>/dev/null
xensim destroy doomed

fe victim verify xvdf --seed 1 --iodepth 8 --passes 1 >/dev/null ||
	fail "the stalled guest's other disk failed its verify"
fe bystander verify xvdb --seed 2 --iodepth 8 --passes 2 >/dev/null ||
	fail "the bystander's verify failed while a read was stalled"
bk_ctl attach other mem:size=8M --vdev xvdb --nowait
fe other write xvdb 0 <"$data" || fail "a disk attached during the stall cannot be written"
bk_ctl detach other xvdb || fail "a disk cannot be detached during the stall"
bk_ctl detach bystander xvdb || fail "the bystander's disk cannot be detached during the stall"
stalled victim xvde || fail "the stalled read finished before blkbackctl unstall"
kill -0 "$reader" 2>/dev/null || fail "the stalled reader ended before blkbackctl unstall"
stalled "$doomed_id" xvdb || fail "the dead guest's disk was let go while its read was still held"
echo "while a read was stalled: another disk of the guest verified, the bystander verified" \
	"twice, a disk was attached, written and detached, and a guest died"

# A resize needs the disk still: it waits at most 5 s for the held read, then says why not.
expect_fail bk_ctl resize victim xvde 32M
expect_out "has not finished the I/O in flight in 5 s, so it was not resized"
stalled victim xvde || fail "the stalled read finished after the refused resize"
fe victim verify xvdf --seed 3 --iodepth 8 --passes 1 >/dev/null ||
	fail "the stalled guest's other disk failed its verify after the refused resize"

bk_ctl unstall victim xvde
wait "$reader" || fail "the stalled read failed once released: $(cat "$err")"
bk_ctl resize victim xvde 32M >/dev/null || fail "the disk cannot be resized once unstalled"
[ "$(stat -c %s "$img")" -eq $((32 << 20)) ] || fail "the resize did not grow $img"
tail -c +$((1024 * 1024 + 1)) "$img" | head -c 4096 | cmp -s - "$out" ||
	fail "the released read returned the wrong bytes"
bk_ctl unstall "$doomed_id" xvdb
doomed_gone() { bk_ctl stats "$doomed_id" xvdb 2>&1 | grep -q "blkbackd serves no xvdb"; }
wait_for 20 doomed_gone || fail "the dead guest's disk stays after its read was released"
fe victim read xvde 1M 4096 >"$back" || fail "the stall range is not served after unstall"
cmp -s "$out" "$back" || fail "a second read after unstall returned other bytes"
expect_fail bk_ctl unstall victim xvdf
expect_out "was not opened with fault=START+COUNT:stall"

for v in xvdb xvdc xvdd xvde xvdf; do bk_ctl detach victim "$v"; done
maps=$(counter Domain-0 maps) unmaps=$(counter Domain-0 unmaps)
[ "$maps" -eq "$unmaps" ] || fail "dom0 still maps $((maps - unmaps)) guest pages"
bk_serving || fail "blkbackd no longer answers"
echo "stall: released reads completed with the file's bytes; dom0 maps no guest page"
