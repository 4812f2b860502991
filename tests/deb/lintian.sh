#!/usr/bin/env bash
# lintian finds no error and no warning in the package make deb built (the .changes: the
# .deb, its debug symbols and the .buildinfo). Its informational tags are printed. A warning
# that cannot be avoided goes in debian/blkbackd.lintian-overrides with its reason.
. "$(dirname "$0")/../helpers.sh"
requires lintian
deb=${BLKBACK_DEB:-}
[ -n "$deb" ] || fail "BLKBACK_DEB is not set: run make check-deb"
changes=${deb%.deb}.changes
[ -f "$deb" ] || fail "no $deb: make deb did not build it"
[ -f "$changes" ] || fail "no $changes beside $deb"
rc=0
OUT=$(lintian --fail-on error,warning --display-info --tag-display-limit 0 "$changes" 2>&1) ||
	rc=$?
echo "$OUT" | grep -v '^running with root privileges'
[ "$rc" -eq 0 ] || fail "lintian found errors or warnings (exit $rc)"
grep -qE '^[EW]: ' <<<"$OUT" && fail "lintian printed an error or a warning"
echo "PASS lintian: no error, no warning in $(basename "$changes")"
