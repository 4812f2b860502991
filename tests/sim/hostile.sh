#!/usr/bin/env bash
# Hostile frontends (tests/hostile/hostile.c): a victim guest sends each malicious request of
# 'hostile --list' and checks the outcome its case states (an error answer followed by a good
# read, a halted ring, or anything but a crash). Meanwhile a bystander guest verifies its own
# disk over and over. At the end blkbackd is alive, the bystander never saw a wrong byte, and
# (bk_stop at exit) blkbackd's log holds no sanitizer report.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

HOSTILE=$BUILD/tests/hostile/hostile
[ -x "$HOSTILE" ] || fail "$HOSTILE is not built"

bk_sim victim bystander
bk_ctl attach bystander mem:size=64M --vdev xvdb --nowait
bk_ctl attach victim mem:size=64M --vdev xvdb --nowait
bk_ctl attach victim mem:size=16M --vdev xvdc --ro --nowait

# The bystander verifies its disk, pass after pass, until told to stop.
BY_STOP=$XENSIM_DIR/bystander.stop BY_FAIL=$XENSIM_DIR/bystander.fail
(
	n=0
	while [ ! -e "$BY_STOP" ]; do
		n=$((n + 1))
		"$BUILD/xensim" run bystander -- "$BUILD/blkfront" verify xvdb --seed "$n" \
			--iodepth 8 --passes 1 >>"$XENSIM_DIR/bystander.log" 2>&1 ||
			{ echo "pass $n failed" >"$BY_FAIL"; break; }
	done
	echo "$n" >"$XENSIM_DIR/bystander.passes"
) &
by=$!

ok=0 bad=0 failed=()
while read -r name disk expect; do
	case $disk in
	ro) vdev=xvdc ;;
	*) vdev=xvdb ;;
	esac
	if out=$(timeout 60 "$BUILD/xensim" run victim -- "$HOSTILE" "$vdev" "$name" 2>&1); then
		echo "PASS $name ($expect)"
		ok=$((ok + 1))
	else
		echo "FAIL $name ($expect): $(tail -n 1 <<<"$out")"
		bad=$((bad + 1))
		failed+=("$name")
	fi
	bk_serving || { tail -n 30 "$BK_LOG"; fail "blkbackd died during case $name"; }
done < <("$HOSTILE" --list)

touch "$BY_STOP"
wait "$by"
[ ! -e "$BY_FAIL" ] || { tail -n 20 "$XENSIM_DIR/bystander.log"; fail "the bystander's verify failed: $(cat "$BY_FAIL")"; }
echo "the bystander verified its disk $(cat "$XENSIM_DIR/bystander.passes") times, all good"
bk_serving || fail "blkbackd no longer answers"
bk_ctl detach victim xvdb
bk_ctl detach victim xvdc
bk_ctl detach bystander xvdb
[ "$bad" -eq 0 ] || fail "$bad hostile cases not as expected: ${failed[*]}"
echo "hostile: $ok cases as expected"
