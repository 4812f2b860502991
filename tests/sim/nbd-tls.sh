#!/usr/bin/env bash
# An nbd: disk on an nbdkit that requires TLS with a pre-shared key: with the key (an nbds://
# URI naming the PSK file) a simulated guest writes and verifies it; without TLS, or with a
# wrong key, the attach is refused with a message that says TLS is the matter, and nothing
# is left of the disk.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-nbd.sh"
requires psktool python3

nbd_setup
psktool -u alice -p "$NBD_DIR/keys.psk" >/dev/null || fail "psktool failed"
psktool -u alice -p "$NBD_DIR/wrong.psk" >/dev/null || fail "psktool failed"
nbd_server tls --tls=require --tls-psk="$NBD_DIR/keys.psk" memory 64M
bk_sim guest1

good="nbds+unix://alice@/?socket=$NBD_DIR/tls.sock&tls-psk-file=$NBD_DIR/keys.psk"
bk_ctl attach guest1 "nbd:$good" --vdev xvdb --nowait || fail "attach with the key failed"
fe guest1 verify xvdb --seed 5 --iodepth 16 || fail "verify over TLS failed"
[ "$(bk_stat guest1 xvdb err_req)" -eq 0 ] || fail "error responses over TLS"
echo "a guest wrote and verified 64 MiB over TLS"

# Refused without the key, and with a wrong one; each says why.
refused() {
	local vdev=$1 spec=$2 want=$3 rc=0
	OUT=$(bk_ctl attach guest1 "$spec" --vdev "$vdev" --nowait 2>&1) || rc=$?
	[ "$rc" -eq 1 ] || fail "attach $spec exited $rc, not 1: $OUT"
	expect_out "blkbackd could not serve $vdev to domain"
	expect_out "$want"
	echo "refused as it must be: $OUT"
}
refused xvdc "nbd:nbd+unix:///?socket=$NBD_DIR/tls.sock,timeout=5" "requires TLS"
refused xvdd "nbd:nbds+unix://alice@/?socket=$NBD_DIR/tls.sock&tls-psk-file=$NBD_DIR/wrong.psk,timeout=5" \
	"TLS handshake failed"
list=$(bk_ctl list) || fail "blkbackctl list failed"
[[ $list != *xvdc* && $list != *xvdd* ]] || fail "refused disks left behind: $list"
bk_ctl detach guest1 xvdb || fail "detach failed"
echo "PASS nbd-tls"
