#!/usr/bin/env bash
# One version: debian/changelog's newest entry is the version blkback/version.h defines and
# every tool prints (a native package: no Debian revision).
. "$(dirname "$0")/../helpers.sh"
version=$(sed -n 's/^#define BLKBACK_VERSION "\(.*\)"$/\1/p' "$REPO/blkback/version.h")
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "blkback/version.h gives version '$version'"
top=$(head -n 1 "$REPO/debian/changelog")
[[ $top =~ ^blkbackd\ \(([^\)]*)\)\  ]] || fail "debian/changelog begins '$top'"
[ "${BASH_REMATCH[1]}" = "$version" ] ||
	fail "debian/changelog's newest version is ${BASH_REMATCH[1]}, blkback/version.h says $version"
if command -v dpkg-parsechangelog >/dev/null; then
	v=$(cd "$REPO" && dpkg-parsechangelog -S Version) || fail "dpkg-parsechangelog failed"
	[ "$v" = "$version" ] || fail "dpkg-parsechangelog reads version $v, not $version"
fi
[ "$("$BUILD/blkbackd" --version)" = "blkbackd $version" ] ||
	fail "blkbackd --version says $("$BUILD/blkbackd" --version), not $version"
grep -qx '3.0 (native)' "$REPO/debian/source/format" ||
	fail "debian/source/format is not 3.0 (native), which a version without a revision needs"
echo "PASS version $version in blkback/version.h, debian/changelog and blkbackd --version"
