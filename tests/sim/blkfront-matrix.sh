#!/usr/bin/env bash
# The frontend's choices against every grant mode of blkbackd: ring order 0..4, 1..3 queues,
# indirect descriptors off or on (256 segments, 1 MiB requests; some runs send every request
# indirect), feature-persistent offered or not, and blkbackd --grant-mode map, persistent or
# copy, and the ring layout blkfront speaks (--abi x86_32, x86_64 or native). Not the full
# product (540 runs) but a pairwise set: every pair of values of any two of the six
# dimensions appears in some run, which the script checks before it starts.
# Each run verifies 16 MiB of a 32 MiB disk with a mix of request sizes, and checks that
# what was negotiated is what was asked: blkfront's "connected:" line, blkbackd's
# "-> Connected (...)" log line (with the ABI it reads from the protocol node), and the
# request counters of 'blkbackctl stats'.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

MAXQ=3
# order queues indirect persistent grant-mode abi; indirect: off, or on as "auto" (above 11
# pages) or "always" (every read and write); abi: blkfront --abi, the ring layout and
# protocol node. Grouped by grant mode: one blkbackd each.
RUNS="
0 1 off    off map        x86_32
1 2 always off map        x86_32
2 3 off    on  map        x86_32
3 1 auto   off map        x86_64
4 2 off    on  map        native
0 2 auto   on  persistent x86_64
1 3 off    off persistent x86_64
2 1 always on  persistent x86_64
3 2 off    on  persistent native
4 3 auto   on  persistent x86_32
0 3 off    off copy       native
1 1 always on  copy       native
2 2 off    off copy       native
3 3 auto   off copy       x86_32
4 1 off    off copy       x86_64
"

# Every pair of values of two dimensions (auto and always both count as on) in some run.
python3 - "$RUNS" <<'PY' || fail "the run table is not pairwise"
import itertools, sys
rows = [l.split() for l in sys.argv[1].strip().splitlines()]
rows = [(r[0], r[1], "off" if r[2] == "off" else "on", r[3], r[4], r[5]) for r in rows]
names = ("order", "queues", "indirect", "persistent", "mode", "abi")
values = (set("01234"), {"1", "2", "3"}, {"on", "off"}, {"on", "off"},
          {"map", "persistent", "copy"}, {"x86_32", "x86_64", "native"})
for a, b in itertools.combinations(range(6), 2):
    missing = {(x, y) for x in values[a] for y in values[b]} - {(r[a], r[b]) for r in rows}
    assert not missing, "%s x %s: no run for %s" % (names[a], names[b], sorted(missing))
print("%d runs cover every pair of the 6 dimensions" % len(rows))
PY

sim_start
xensim create guest1 >/dev/null || fail "cannot create guest1"
dom=$(xensim list | awk '$2 == "guest1" { print $1 }')
W=$XENSIM_DIR

# blkbackd in grant mode $1, serving a fresh 32 MiB disk; what it offers, seen by blkfront.
serve() {
	bk_start --grant-mode "$1" --max-queues "$MAXQ"
	bk_ctl attach guest1 mem:size=32M --vdev xvdb --nowait >/dev/null ||
		fail "$1: attach failed"
	fe guest1 info xvdb --abi native >"$W/info" 2>&1 || { cat "$W/info"; fail "$1: info failed"; }
	# native is the layout blkfront was built for, published by its name
	NATIVE=$(sed -n 's/^protocol: //p' "$W/info")
	case $NATIVE in x86_64-abi | x86_32-abi | arm-abi) ;; *) fail "$1: info says protocol '$NATIVE'" ;; esac
	grep -q "^indirect-segments: backend 256, in use 32$" "$W/info" &&
		grep -q "^ring: order 4 (backend max 4), 512 requests; queues 1 (backend max $MAXQ)$" \
			"$W/info" ||
		{ cat "$W/info"; fail "$1: blkbackd does not offer 256 segments, order 4, $MAXQ queues"; }
	if [ "$1" = persistent ]; then want=yes; else want=no; fi
	grep -q "^persistent: backend $want" "$W/info" ||
		fail "$1: feature-persistent offered is not '$want': $(grep persistent: "$W/info")"
}

# The backend's Connected lines for our disk so far.
connected_lines() { grep -c "d$dom xvdb: backend .* -> Connected (" "$BK_LOG"; }

printf '%-3s %-5s %-6s %-8s %-10s %-10s %-6s | %s\n' run order queues indirect persistent mode abi \
	"blkfront negotiated; blkbackd connected; requests"
mode_now= n=0
while read -r order queues ind pers mode abi; do
	[ -n "$order" ] || continue
	if [ "$mode" != "$mode_now" ]; then
		if [ -n "$mode_now" ]; then
			bk_ctl detach guest1 xvdb >/dev/null || fail "detach failed"
			bk_stop
		fi
		serve "$mode"
		mode_now=$mode
	fi
	n=$((n + 1))
	args=(--seed "$n" --size 16M --max-ring-order "$order" --queues "$queues" --abi "$abi")
	case $ind in
	off) args+=(--indirect-segs 0 --bs-min 512 --bs-max 128k) ;;
	auto) args+=(--indirect-segs 256 --bs-min 512 --bs-max 2M --slots 8) ;;
	always) args+=(--indirect-segs 256 --indirect always --bs-min 512 --bs-max 2M --slots 8) ;;
	esac
	[ "$pers" = on ] || args+=(--no-persistent)
	c0=$(connected_lines)
	bk_ctl stats guest1 xvdb --json >"$W/before.json" || fail "run $n: stats failed"
	fe guest1 verify xvdb "${args[@]}" >"$W/verify" 2>&1 ||
		{ cat "$W/verify"; fail "run $n (blkfront verify ${args[*]}): verify failed"; }
	bk_ctl stats guest1 xvdb --json >"$W/after.json" || fail "run $n: stats failed"
	[ "$(connected_lines)" -eq $((c0 + 1)) ] ||
		fail "run $n: blkbackd logged $(($(connected_lines) - c0)) connections, not 1"
	be=$(grep "d$dom xvdb: backend .* -> Connected (" "$BK_LOG" | tail -n 1)
	printf '%-3s %-5s %-6s %-8s %-10s %-10s %-6s | ' "$n" "$order" "$queues" "$ind" "$pers" "$mode" "$abi"
	[ "$abi" = native ] && proto=$NATIVE || proto=$abi-abi
	python3 - "$order" "$queues" "$ind" "$pers" "$mode" "$W/verify" "$be" "$proto" \
		"$W/before.json" "$W/after.json" <<'PY' || fail "run $n: not what was asked"
import json, re, sys
order, queues, ind, pers, mode, vlog, be, proto, before, after = sys.argv[1:]
fe = dict(kv.split("=") for line in open(vlog) if line.startswith("connected: ")
          for kv in line.split()[1:])
want_pers = pers == "on" and mode == "persistent"
want = {"ring-order": order, "queues": queues,
        "indirect-segs": "0" if ind == "off" else "256",
        "indirect-always": "yes" if ind == "always" else "no",
        "persistent": "yes" if want_pers else "no"}
bad = ["%s=%s (asked %s)" % (k, fe.get(k), v) for k, v in want.items() if fe.get(k) != v]
assert not bad, "blkfront negotiated " + ", ".join(bad)
assert "all 32768 blocks good" in open(vlog).read(), "verify did not check every block"
m = re.search(r"\((\d+) queues?, (\d+)-page rings?, ([^,]+), (\w+) grants\)", be)
assert m, "no Connected line of blkbackd: " + be
grants = mode if mode != "persistent" else ("persistent" if want_pers else "map")
got = (int(m.group(1)), int(m.group(2)), m.group(3), m.group(4))
want = (int(queues), 1 << int(order), proto, grants)
assert got == want, "blkbackd connected %s, want %s" % (got, want)
b, a = json.load(open(before))[0], json.load(open(after))[0]
d = {k: a[k] - b[k] for k in a if isinstance(a[k], int) and not isinstance(a[k], bool)}
big = a["segs_log2_histogram"][8] - b["segs_log2_histogram"][8]	# 129..256 segments
rw = d["rd_req"] + d["wr_req"]
assert a["grant_mode"] == grants, "stats grant_mode %s, want %s" % (a["grant_mode"], grants)
assert d["err_req"] == 0, "%d error responses" % d["err_req"]
assert d["rd_sect"] >= 32768 and d["wr_sect"] >= 32768, "16 MiB not written and read"
if ind == "off":
    assert d["ind_req"] == 0 and big == 0, "indirect requests: %d" % d["ind_req"]
elif ind == "auto":
    assert 0 < d["ind_req"] and big > 0, "%d indirect, %d of 1 MiB" % (d["ind_req"], big)
else:
    assert d["ind_req"] == rw and big > 0, "%d of %d indirect" % (d["ind_req"], rw)
if mode == "copy":
    assert d["grant_maps"] == 0 and d["grant_copies"] > 0, "copy mode mapped pages"
else:
    assert d["grant_maps"] > 0, "no grant maps in %s mode" % mode
print("order %s, %s queue(s), %s segs, persistent %s, %s slots; %s, %s grants; %d requests, "
      "%d indirect, %d of 1 MiB" % (fe["ring-order"], fe["queues"], fe["indirect-segs"],
      fe["persistent"], fe["slots"], proto, grants, rw, d["ind_req"], big))
PY
done <<<"$RUNS"
bk_ctl detach guest1 xvdb >/dev/null || fail "detach failed"
echo "$n runs: every combination pair verified with what it asked for"
