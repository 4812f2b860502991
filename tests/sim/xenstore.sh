#!/usr/bin/env bash
# The simulated xenstored, proved with Xen's own clients: test-xenstore passes in dom0 and in
# a guest; xenstore-ls/-read/-write/-chmod/-watch behave as on Xen (permissions, relative
# paths, watch events); errors, watches, transactions and quotas answer as xenstored does
# (tests/sim/xenstore-wire.py); a flooding guest hurts only itself; `xensim destroy` fires
# @releaseDomain and kills the processes acting as the destroyed domain.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../helpers.sh"
source "$here/lib.sh"
requires python3
T=$(xen_tool test-xenstore) || exit 77
XLS=$(xen_tool xenstore-ls) || exit 77
bin=$(dirname "$XLS")
wire() { local dom=$1; shift; sim_run "$dom" python3 "$here/xenstore-wire.py" "$@"; }
# x DOMAIN TOOL ARGS: xenstore-TOOL in DOMAIN.
x() { local dom=$1 tool=$2; shift 2; sim_run "$dom" "$bin/xenstore-$tool" "$@"; }

sim_start
g1=$(xensim create guest1) || fail "xensim create guest1 failed"
g2=$(xensim create guest2) || fail "xensim create guest2 failed"
[ "$g1" = 1 ] && [ "$g2" = 2 ] || fail "domids $g1 $g2, expected 1 2"

echo "== Xen's test-xenstore, in dom0 and in guest1"
# It works in its home's xenstore-test, which a libxl guest may not create itself: dom0
# makes it the guest's first (the test removes it when it is done).
x Domain-0 write "/local/domain/$g1/xenstore-test" "" &&
	x Domain-0 chmod "/local/domain/$g1/xenstore-test" "n$g1" || fail "cannot prepare guest1"
for d in Domain-0 guest1; do
	OUT=$(sim_run "$d" "$T" 2>&1) || { echo "$OUT"; fail "test-xenstore failed in $d"; }
	echo "$OUT" | sed "s/^/  $d: /"
	[[ $OUT != *failed* ]] || fail "test-xenstore reported a failure in $d"
	expect_out "ta err"
done
OUT=$(sim_run Domain-0 "$T" -i 500 -t "write 1" 2>&1) || fail "test-xenstore -i 500 failed: $OUT"
echo "  500 writes: $OUT"
OUT=$(sim_run Domain-0 "$T" -i 500 -t "ta rmw" 2>&1) || fail "test-xenstore -i 500 failed: $OUT"
echo "  500 transactions: $OUT"

echo "== xenstore-write, -read, -ls -p"
x Domain-0 write /local/domain/0/pub hello || fail "xenstore-write in dom0 failed"
OUT=$(x Domain-0 read /local/domain/0/pub) && [ "$OUT" = hello ] || fail "read back '$OUT'"
OUT=$(x Domain-0 ls -p /local/domain)
# As libxl makes them: the home, name and domid are dom0's, readable by the guest.
echo "$OUT" | grep -qE "^$g1 = \"\" .*\(n0,r$g1\)$" || fail "guest1's home not n0,r$g1: $OUT"
echo "$OUT" | grep -qE "^ name = \"guest1\" .*\(n0,r$g1\)$" || fail "no name for guest1: $OUT"
echo "$OUT" | grep -qE "^ data = \"\" .*\(n$g1\)$" || fail "guest1's data not its own: $OUT"
echo "$OUT" | grep -qE "^ domid = \"$g2\"" || fail "no domid for guest2: $OUT"
wire guest1 home || fail "home directory checks failed"
expect_fail x guest1 write name guest2

echo "== permissions: a guest cannot read dom0's nodes until dom0 allows it"
expect_fail x guest1 ls /local/domain/0
expect_out "Permission denied"
expect_fail x guest1 read /local/domain/0/pub
x Domain-0 chmod /local/domain/0/pub n0 "r$g1" || fail "xenstore-chmod failed"
OUT=$(x Domain-0 ls -p /local/domain/0)
expect_out "(n0,r$g1)"
OUT=$(x guest1 read /local/domain/0/pub) && [ "$OUT" = hello ] ||
	fail "guest1 cannot read a node chmod'ed r$g1: $OUT"
expect_fail x guest1 write /local/domain/0/pub evil
expect_fail x guest2 ls /local/domain/0/pub
expect_out "Permission denied"
x Domain-0 chmod /local/domain/0/pub n0 || fail "xenstore-chmod back failed"
expect_fail x guest1 ls /local/domain/0/pub
expect_out "Permission denied"
# A guest's relative writes land in its home, owned by it; the other guest cannot look.
x guest1 write data/x 1 || fail "guest1 cannot write in its home"
OUT=$(x Domain-0 ls -p "/local/domain/$g1/data")
expect_out "(n$g1)"
expect_fail x guest2 ls "/local/domain/$g1/data"
expect_out "Permission denied"

echo "== xenstore-watch prints the event of a write"
W=$XENSIM_DIR/watch.out
x guest1 watch -n 2 data/watched >"$W" 2>&1 &
wpid=$!
wait_for 10 grep -q "^data/watched$" "$W" || fail "no initial watch event: $(cat "$W")"
x Domain-0 write "/local/domain/$g1/data/watched/k" v || fail "write for the watch failed"
wait "$wpid" || fail "xenstore-watch failed: $(cat "$W")"
[ "$(cat "$W")" = $'data/watched\ndata/watched/k' ] || fail "watch printed: $(cat "$W")"

echo "== protocol: errors, watches, transactions (raw xs_wire client)"
wire Domain-0 protocol || fail "protocol checks failed"
wire guest1 watch || fail "watch checks failed"
wire guest1 txn || fail "transaction checks failed"
wire guest1 txnnew || fail "transactions creating directories failed"
wire guest1 txnrewrite || fail "a transaction removing and rewriting a directory failed"
wire guest2 events || fail "watch event permission checks failed"

echo "== quotas per domain: connections, transactions, watches; nodes at commit"
wire Domain-0 bigstore || fail "cannot fill the store"
xensim create limits >/dev/null || fail "xensim create limits failed"
wire limits conns || fail "per-domain limit checks failed"
grep -q "at most 8 xenstore connections" "$SIM_LOG" || fail "no log line for the refused connection"
xensim create txnq >/dev/null || fail "xensim create txnq failed"
wire txnq txnquota || fail "the node quota does not hold at commit"
xensim create paused >/dev/null || fail "xensim create paused failed"
wire paused unpause || fail "a paused connection stalled"

echo "== quotas: a guest over its quota fails alone"
xensim create hog >/dev/null || fail "xensim create hog failed"
wire hog quota || fail "quota checks failed"
expect_fail x hog write data/one-more 1
x Domain-0 write /local/domain/0/after-quota ok || fail "dom0 hit the guest's quota"
x guest2 write data/after-quota ok || fail "guest2 hit the hog's quota"
# A guest that sends requests and never reads the replies: the others are still served.
mkfifo "$XENSIM_DIR/hold"
wire hog flood <"$XENSIM_DIR/hold" >"$XENSIM_DIR/flood.out" 2>&1 &
fpid=$!
exec 7>"$XENSIM_DIR/hold"
wait_for 20 grep -q "requests sent" "$XENSIM_DIR/flood.out" ||
	fail "the flood did not fill its socket: $(cat "$XENSIM_DIR/flood.out")"
cat "$XENSIM_DIR/flood.out"
x Domain-0 write /local/domain/0/during-flood ok || fail "dom0 stalled by the flood"
OUT=$(x guest2 read name) && [ "$OUT" = guest2 ] || fail "guest2 stalled by the flood"
exec 7>&-
wait "$fpid" || fail "the flooding client failed: $(cat "$XENSIM_DIR/flood.out")"

echo "== create fires @introduceDomain, destroy fires @releaseDomain and kills the domain"
x Domain-0 watch -n 2 @introduceDomain >"$XENSIM_DIR/intro.out" 2>&1 &
ipid=$!
x Domain-0 watch -n 3 @releaseDomain >"$XENSIM_DIR/release.out" 2>&1 &
rpid=$!
wait_for 10 grep -q @introduceDomain "$XENSIM_DIR/intro.out" || fail "no initial @introduceDomain"
wait_for 10 grep -q @releaseDomain "$XENSIM_DIR/release.out" || fail "no initial @releaseDomain"
gd=$(xensim create doomed) || fail "xensim create doomed failed"
wait "$ipid" || fail "no @introduceDomain event: $(cat "$XENSIM_DIR/intro.out")"
x doomed watch -n 5 data >"$XENSIM_DIR/doomed.out" 2>&1 &
dpid=$!
wait_for 10 grep -q "^data$" "$XENSIM_DIR/doomed.out" || fail "the doomed domain's watch did not start"
xensim destroy doomed || fail "xensim destroy failed"
wait "$dpid"
rc=$?
[ "$rc" -eq 137 ] || fail "a process of the destroyed domain exited with $rc, not SIGKILL"
# Fired for a destroyed domain whatever the store holds (here: no home at all).
gb=$(xensim create bare) || fail "xensim create bare failed"
x Domain-0 rm "/local/domain/$gb" || fail "dom0 cannot remove /local/domain/$gb"
xensim destroy bare || fail "xensim destroy bare failed"
wait "$rpid" || fail "no @releaseDomain event: $(cat "$XENSIM_DIR/release.out")"
[ "$(grep -c @releaseDomain "$XENSIM_DIR/release.out")" -eq 3 ] ||
	fail "@releaseDomain not fired for each destroyed domain: $(cat "$XENSIM_DIR/release.out")"
expect_fail x Domain-0 read "/local/domain/$gd/name"
[[ $(xensim list) != *doomed* ]] || fail "doomed is still listed"
[ ! -e "$XENSIM_DIR/dom$gd" ] || fail "dom$gd's directory is left behind"
g5=$(xensim create after) && [ "$g5" -gt "$gd" ] || fail "domid $g5 reused after $gd"
expect_fail xensim create after
expect_out "already exists"
expect_fail xensim destroy Domain-0

sim_stop

echo "== destroy kills the process that connected, never one that got its pid since"
# In a pid namespace of our own, where ns_last_pid hands a chosen pid to the next process.
if ! unshare -Urpf --mount-proc true 2>/dev/null; then
	echo "skipped: cannot make a pid namespace (unshare -Urpf)"
else
	OUT=$(XENSIM=$BUILD/xensim HOLDER=$here/xenstore-wire.py unshare -Urpf --mount-proc \
		bash -c "$(cat <<'INNER'
set -u
d=$(mktemp -d /tmp/xensim-pid.XXXXXX)
export XENSIM_DIR=$d
trap '"$XENSIM" stop >/dev/null 2>&1; rm -rf "$d"' EXIT
"$XENSIM" start --log "$d/log" || { echo "FAIL: xensim start"; exit 1; }
"$XENSIM" create victim >/dev/null || { echo "FAIL: create"; exit 1; }
# The holder connects as the guest and exits; a child it forked keeps the connection.
"$XENSIM" run victim -- python3 "$HOLDER" holder >"$d/pids" || { echo "FAIL: holder"; exit 1; }
read -r p child <"$d/pids"
echo $((p - 1)) >/proc/sys/kernel/ns_last_pid
sleep 1000 &
v=$!
[ "$v" = "$p" ] || { echo "SKIP: pid $p not reused ($v)"; kill "$v" "$child"; exit 0; }
"$XENSIM" destroy victim || { echo "FAIL: destroy"; exit 1; }
if kill -0 "$v" 2>/dev/null; then echo "OK: pid $p survived"; else echo "FAIL: pid $p killed"; fi
kill "$v" "$child" 2>/dev/null
"$XENSIM" stop >/dev/null 2>&1
grep -E -A12 "ERROR: (Address|Leak)Sanitizer|runtime error:" "$d/log" && echo "FAIL: sanitizer report"
exit 0
INNER
)" 2>&1)
	echo "  $OUT"
	[[ $OUT == *OK:* || $OUT == *SKIP:* ]] && [[ $OUT != *FAIL* ]] ||
		fail "xensim destroy killed a process that reused the guest's pid: $OUT"
fi
echo "xenstore: all checks passed"
