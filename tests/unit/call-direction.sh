#!/usr/bin/env bash
# Calls between the files of tools/blkfront and of tools/xensim go one way: a core that the
# commands use, never back. From nm of each file's object: file A uses file B when A's
# object has an undefined symbol that B's defines. Prints that graph; fails on any cycle.
# usage: tests/unit/call-direction.sh [DIR...]   (default: tools/blkfront tools/xensim)
. "$(dirname "$0")/../helpers.sh"
requires nm awk

# "user definer symbol" for every symbol one object of source directory $1 takes from another.
edges() {
	local src f o
	for src in "$REPO/$1"/*.c; do
		f=$(basename "$src" .c)
		o=$BUILD/$1/$f.o
		nm "$o" | awk -v f="$f" '
			$1 == "U" && NF == 2 { print "U", f, $2 }
			NF == 3 && $2 ~ /^[BCDGRSTVW]$/ { print "D", f, $3 }'
	done | awk '
		$1 == "D" { def[$3] = $2; next }
		{ use[++n] = $2 " " $3 }
		END {
			for (i = 1; i <= n; i++) {
				split(use[i], u, " ")
				if ((u[2] in def) && def[u[2]] != u[1])
					print u[1], def[u[2]], u[2]
			}
		}' | sort -u
}

# The files on a cycle ("cycle: a b c" per strongly connected set) of "from to ..." lines.
cycles() {
	awk '
		{ node[$1]; node[$2]; reach[$1, $2] }
		END {
			for (k in node) for (i in node) if ((i, k) in reach)
				for (j in node) if ((k, j) in reach) reach[i, j]
			for (i in node) {
				if (i in done)
					continue
				set = i
				for (j in node)
					if (j != i && (i, j) in reach && (j, i) in reach) {
						set = set " " j
						done[j]
					}
				if (set != i || (i, i) in reach)
					print "cycle: " set
			}
		}'
}

# The detector itself: a known cycle is found, a chain is not.
[ -n "$(printf 'a b\nb c\nc a\nc d\n' | cycles)" ] || fail "cycles() misses a 3-cycle"
[ -z "$(printf 'a b\nb c\na c\n' | cycles)" ] || fail "cycles() finds one in a chain"

[ $# -gt 0 ] || set -- tools/blkfront tools/xensim
bad=0
for dir in "$@"; do
	for src in "$REPO/$dir"/*.c; do
		o=$BUILD/$dir/$(basename "$src" .c).o
		[ -f "$o" ] || fail "$o is not built: make $BUILD/$(basename "$dir") first"
	done
	graph=$(edges "$dir")
	# An empty graph means nm gave nothing usable: that proves nothing.
	[ "$(printf '%s\n' "$graph" | grep -c .)" -ge 5 ] || fail "$dir: no calls between files found"
	echo "== $dir: file -> file it calls: symbols"
	printf '%s\n' "$graph" | awk '{ k = $1 " -> " $2; s[k] = s[k] " " $3 }
		END { for (k in s) print k ":" s[k] }' | sort
	found=$(printf '%s\n' "$graph" | cycles | sed 's/^cycle: //' | paste -sd ";")
	if [ -n "$found" ]; then
		echo "FAIL: $dir: files that call each other, in a circle: $found"
		bad=1
	else
		echo "PASS $dir: calls go one way"
	fi
done
exit $bad
