#!/usr/bin/env bash
# A toolstack's mem disk belongs to its VM's disk (UUID and devid), not to the domain id:
# libxl's save/restore, reboot and crash remove the disk with the old domain (xl destroy's
# forced removal: the frontend's directory goes with online 0) and add it to a new domain
# with the same UUID and devid. Played with tests/sim/xl-libxl.py and 'xensim shutdown'
# (the reason blkbackd reads through xensim's drop-in libxenctrl):
#  - save (suspend): the data written before reads back after the restore; list shows the
#    disk kept meanwhile, after a suspend, until attached again;
#  - reboot and crash: kept for the grace window; with a 1 s window it is freed after it;
#  - detach, xl destroy of a running guest, poweroff: freed, memory back to the baseline;
#  - a kept disk attached with another size is refused, saying how to free it; blkbackctl
#    free frees it; a second attach of a key that is attached is refused;
#  - a daemon that cannot open libxenctrl warns at start, and frees the disk of a save.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-xl.sh"
requires python3

sim_start
bk_start --mem-keep-grace 600
U1=3f2a6c1e-5b7d-4e90-8a1b-2c3d4e5f6a7b
U2=9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a
xs() { xensim run Domain-0 -- python3 "$here/xs-raw.py" "$@"; }

# A new domain guest1 of VM $1 (its UUID in /local/domain/<id>/vm, as libxl writes it).
new_guest() {
	xensim create "${2:-guest1}" >/dev/null || fail "cannot create ${2:-guest1}"
	xl_init "${2:-guest1}" vbd3
	xs write "/local/domain/$DOM/vm" "/vm/$1" || fail "cannot write the domain's vm node"
}
attach() { libxl attach "$DOM" 51728 "$1" --script "$SCRIPT"; }
# The domain ends: shut down with reason $1 (none: xl destroy of a running guest), its
# disk removed as xl destroy does (the frontend's directory first), then destroyed.
end_domain() {
	[ -z "$1" ] || xensim shutdown guest1 "$1" || fail "xensim shutdown guest1 $1 failed"
	OUT=$(libxl detach "$DOM" 51728 --script "$SCRIPT" --force on 2>&1) ||
		fail "xl destroy's removal failed: $OUT"
	xensim destroy guest1 || fail "cannot destroy guest1"
}
write_data() { fe guest1 verify xvdb --seed "$1" --mode write --size 4M >/dev/null ||
	fail "writing seed $1 failed"; }
# Exit 0 if the data of seed $1 reads back, 3 if not (blkfront verify's bad blocks).
read_data() { fe guest1 verify xvdb --seed "$1" --mode read --size 4M >/dev/null 2>&1; }
daemon_key() { bk_ctl stats --daemon --json |
	python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
base=$(daemon_key mem_bytes) || fail "no mem_bytes in blkbackctl stats --daemon"
at_base() { [ "$(daemon_key mem_bytes)" = "$base" ] && [ "$(daemon_key kept)" = 0 ]; }
grep -q "cannot use libxenctrl" "$BK_LOG" && fail "blkbackd did not load xensim's libxenctrl: \
$(grep libxenctrl "$BK_LOG")"

echo "== xl save / xl restore: the data reads back"
new_guest $U1
OUT=$(attach mem:size=16M 2>&1) || fail "attach failed: $OUT"
write_data 11
end_domain suspend
OUT=$(bk_ctl list) || fail "blkbackctl list failed"
expect_out "$U1/xvdb"
expect_out "suspend"
expect_out "until attached or freed"
[ "$(daemon_key kept)" = 1 ] || fail "kept is $(daemon_key kept) after the save, not 1"
[ "$(daemon_key mem_bytes)" -gt "$base" ] || fail "the kept disk holds no memory"
new_guest $U1
OUT=$(attach mem:size=16M 2>&1) || fail "attach after the restore failed: $OUT"
read_data 11 || fail "the data written before xl save does not read back after xl restore"
[ "$(daemon_key kept)" = 0 ] || fail "still listed as kept once attached again"

echo "== xl reboot and a crash (on_crash=restart): kept for the grace window"
for reason in reboot crash; do
	write_data 12
	end_domain $reason
	OUT=$(bk_ctl list) || fail "blkbackctl list failed"
	expect_out "$reason"
	[[ $OUT == *"until 20"* ]] || fail "no end of the grace window in: $OUT"
	new_guest $U1
	OUT=$(attach mem:size=16M 2>&1) || fail "attach after the $reason failed: $OUT"
	read_data 12 || fail "the data written before the $reason does not read back after it"
done

echo "== a kept disk asked for with another size: refused, saying how to free it"
end_domain suspend
new_guest $U1
OUT=$(attach mem:size=32M 2>&1) && fail "attach with another size succeeded: $OUT"
expect_out "was kept (after a suspend) with size 16777216 bytes, and the disk now asks for 33554432"
expect_out "blkbackctl free $U1/xvdb"
closed() { [ "$(xl_node "$BE/state")" = 6 ]; }
wait_for 10 closed || fail "the refused disk did not close"
OUT=$(libxl detach "$DOM" 51728 --script "$SCRIPT" 2>&1) || fail "detach failed: $OUT"
[ "$(daemon_key kept)" = 1 ] || fail "the refusal did not leave the kept disk alone"
OUT=$(bk_ctl free "$U1" xvdb 2>&1) || fail "blkbackctl free failed: $OUT"
at_base || fail "blkbackctl free left mem_bytes $(daemon_key mem_bytes) kept $(daemon_key kept)"
OUT=$(bk_ctl free "$U1" xvdb 2>&1) && fail "a second free succeeded: $OUT"
expect_out "no kept memory disk $U1/xvdb"
OUT=$(attach mem:size=32M 2>&1) || fail "attach once freed failed: $OUT"

echo "== a second domain of the same VM cannot attach the disk while it is attached"
new_guest $U1 guest2
OUT=$(attach mem:size=32M 2>&1) && fail "a second attach of the same VM's disk succeeded: $OUT"
expect_out "localhost migrate"
wait_for 10 closed || fail "the refused second disk did not close"
OUT=$(libxl detach "$DOM" 51728 --script "$SCRIPT" 2>&1) || fail "detach failed: $OUT"
xensim destroy guest2 || fail "cannot destroy guest2"
xl_init guest1 vbd3

echo "== detach, xl destroy of a running guest, poweroff: freed"
write_data 13
OUT=$(libxl detach "$DOM" 51728 --script "$SCRIPT" 2>&1) || fail "detach failed: $OUT"
at_base || fail "after a detach: mem_bytes $(daemon_key mem_bytes) kept $(daemon_key kept)"
OUT=$(attach mem:size=32M 2>&1) || fail "attach failed: $OUT"
read_data 13 && fail "a detached disk's data came back on the next attach"
for reason in "" poweroff; do
	write_data 14
	end_domain "$reason"
	at_base || fail "after ${reason:-a destroy}: mem_bytes $(daemon_key mem_bytes) kept \
$(daemon_key kept)"
	new_guest $U1
	OUT=$(attach mem:size=32M 2>&1) || fail "attach failed: $OUT"
	read_data 14 && fail "the data came back after ${reason:-a destroy}"
done
end_domain poweroff

echo "== past the grace window (1 s), a rebooted VM's disk is freed"
bk_stop
bk_start --mem-keep-grace 1
new_guest $U2
OUT=$(attach mem:size=16M 2>&1) || fail "attach failed: $OUT"
write_data 15
end_domain reboot
wait_for 20 at_base || fail "not freed after the grace window: mem_bytes \
$(daemon_key mem_bytes) kept $(daemon_key kept)"
grep -q "kept after a reboot, is freed" "$BK_LOG" || fail "the free is not logged"
new_guest $U2
OUT=$(attach mem:size=16M 2>&1) || fail "attach failed: $OUT"
read_data 15 && fail "the data came back after the grace window"
end_domain poweroff

echo "== without libxenctrl: a warning at start, and a save frees the disk"
bk_stop
BK_WRAP=(env -u XENSIM_DIR)	# the drop-in libxenctrl cannot open without it
bk_start
grep -q "cannot use libxenctrl: xc_interface_open failed" "$BK_LOG" ||
	fail "no warning without libxenctrl: $(grep -i xenctrl "$BK_LOG")"
new_guest $U2
OUT=$(attach mem:size=16M 2>&1) || fail "attach failed: $OUT"
write_data 16
end_domain suspend
at_base || fail "kept without libxenctrl: mem_bytes $(daemon_key mem_bytes) kept $(daemon_key kept)"
echo "ok: a mem disk follows its VM through save/restore, reboot and crash; freed otherwise"
