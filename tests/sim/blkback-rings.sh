#!/usr/bin/env bash
# Multi-page rings: blkbackd offers max-ring-page-order 4, and a frontend that picks any
# order from 0 to 4 (ring-ref, or ring-page-order + ring-ref0..N) gets a ring of that many
# requests and a disk that verifies with the whole ring in flight. An order beyond the offer
# is refused, with the reason in the backend's error node, and the disk serves again
# once the frontend comes back with a valid one. The same for multi-queue-num-queues of 0 or
# more than multi-queue-max-queues.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3
XSR=$(xen_tool xenstore-read) || exit 77
XSW=$(dirname "$XSR")/xenstore-write XRM=$(dirname "$XSR")/xenstore-rm

bk_sim guest1
bk_ctl attach guest1 mem:size=32M --vdev xvdb --nowait
dom=$(xensim list | awk '$2 == "guest1" { print $1 }')
be=/local/domain/0/backend/vbd3/$dom/51728 fe=/local/domain/$dom/device/vbd/51728
[ "$(xensim run guest1 -- "$XSR" "$be/max-ring-page-order")" = 4 ] ||
	fail "blkbackd does not offer max-ring-page-order 4"

for order in 0 1 2 3 4; do
	slots=$((32 << order))
	fe guest1 info xvdb --max-ring-order "$order" >"$XENSIM_DIR/info" || fail "order $order: info"
	grep -q "ring: order $order (backend max 4), $slots requests" "$XENSIM_DIR/info" ||
		fail "order $order: $(grep ring: "$XENSIM_DIR/info")"
	fe guest1 verify xvdb --max-ring-order "$order" --slots "$slots" --iodepth "$slots" \
		--bs-max 44k --seed "$order" >"$XENSIM_DIR/verify" 2>&1 ||
		{ cat "$XENSIM_DIR/verify"; fail "order $order: verify failed"; }
	echo "order $order: $slots requests, verify good"
done
grep -q "Connected (1 queue, 16-page ring" "$BK_LOG" || fail "blkbackd never connected a 16-page ring"

# A frontend (here by hand, with the xenstore tools) asking for order 7 is refused.
xg() { xensim run guest1 -- "$XSW" "$@"; }
be_state() { [ "$(xensim run guest1 -- "$XSR" "$be/state")" = "$1" ]; }
xg "$fe/state" 1		# Initialising: blkbackd goes back to InitWait
wait_for 10 be_state 2 || fail "blkbackd did not return to InitWait"
xg "$fe/ring-page-order" 7 "$fe/ring-ref0" 8 "$fe/event-channel" 1 "$fe/state" 3
refused() { xensim run guest1 -- "$XSR" "$be/error" 2>/dev/null | grep -q "ring-page-order '7'"; }
wait_for 10 refused || fail "no error for ring-page-order 7: $(xensim run guest1 -- "$XSR" "$be/error")"
grep -q "ring-page-order '7'" "$BK_LOG" || fail "the refusal is not in blkbackd's log"
xg "$fe/state" 6
# The frontend comes back properly: the disk serves again.
fe guest1 verify xvdb --seed 9 >/dev/null || fail "the disk does not serve after the refusal"
bk_serving || fail "blkbackd died"
! xensim run guest1 -- "$XSR" "$be/error" 2>/dev/null ||
	fail "the refusal is still in $be/error after the disk connected"
echo "order 7 refused with a reason; the disk serves again afterwards"

# Queue counts: none, one more than offered, and a thousand are refused the same way.
max=$(xensim run guest1 -- "$XSR" "$be/multi-queue-max-queues")
[ "$max" -ge 1 ] 2>/dev/null || fail "blkbackd offers multi-queue-max-queues '$max'"
xensim run guest1 -- "$XRM" "$fe/ring-page-order"
for nq in 0 $((max + 1)) 1000; do
	xg "$fe/state" 1
	wait_for 10 be_state 2 || fail "blkbackd did not return to InitWait"
	xg "$fe/multi-queue-num-queues" "$nq" "$fe/ring-ref" 8 "$fe/event-channel" 1 "$fe/state" 3
	refusedq() {
		xensim run guest1 -- "$XSR" "$be/error" 2>/dev/null |
			grep -q "multi-queue-num-queues '$nq'"
	}
	wait_for 10 refusedq ||
		fail "no error for $nq queues: $(xensim run guest1 -- "$XSR" "$be/error")"
	xg "$fe/state" 6
done
xensim run guest1 -- "$XRM" "$fe/multi-queue-num-queues"
fe guest1 verify xvdb --seed 10 --queues "$max" >/dev/null ||
	fail "the disk does not serve $max queues after the refusals"
bk_serving || fail "blkbackd died"
echo "queue counts 0, $((max + 1)) and 1000 refused; $max queues serve"
