#!/usr/bin/env bash
# An xl disk line with script=blkbackd but no backendtype=tap, on a host whose blkbackd
# serves kind vbd3 (Xen 4.19 and later): libxl makes it a phy disk, kind vbd, which the
# kernel's xen-blkback takes to InitWait, and runs the script. No blkbackd serves kind vbd:
# the script's add fails saying what to change in the disk line (backendtype=tap), not
# only "start blkbackd", which would start the vbd3 one that already runs.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-xl.sh"
requires python3

bk_sim guest1
xl_init guest1 vbd
be=$BE fe=$FE
xs() { xensim run Domain-0 -- python3 "$here/xs-raw.py" "$@"; }
# libxl's phy disk, in InitWait as the kernel's backend puts it.
xs write "$fe/backend" "$be" write "$fe/state" 1 write "$be/frontend" "$fe" \
	write "$be/frontend-id" "$DOM" write "$be/online" 1 write "$be/params" mem:size=4M \
	write "$be/script" "$SCRIPT" write "$be/type" phy write "$be/mode" w \
	write "$be/state" 2 || fail "cannot write the nodes"
OUT=$(xensim run Domain-0 -- env XENBUS_PATH="backend/vbd/$DOM/51728" XENBUS_TYPE=vbd \
	XENBUS_BASE_PATH=backend "$SCRIPT" add 2>&1) && fail "add succeeded with no blkbackd for kind vbd: $OUT"
echo "$OUT" >"$XENSIM_DIR/xl-stderr.add"
expect_out "blkbackd cannot serve xvdb to domain $DOM (guest1): no blkbackd serves backend kind vbd"
expect_out "the disk line has no backendtype=tap, so libxl made it a phy disk, kind vbd: on Xen 4.19 and later add backendtype=tap"
[[ $(xl_node "$be/hotplug-error") == *"add backendtype=tap"* ]] || fail "not in hotplug-error"
echo "ok: script=blkbackd without backendtype=tap fails saying to add it"
