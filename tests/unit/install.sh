#!/usr/bin/env bash
# make install puts exactly the package's files where Debian expects them (PREFIX=/usr: the
# binaries in /usr/sbin and /usr/bin, the rbd engine module in /usr/lib/blkbackd/engines
# (packaged apart, as blkbackd-rbd), the unit in /lib/systemd/system, the man pages, the
# hotplug script in /etc/xen/scripts when the tree has one), with their modes and the unit's
# paths filled in; under the default PREFIX the unit goes below /usr/local and runs
# /usr/local/sbin/blkbackd. make uninstall with the same variables removes every file.
. "$(dirname "$0")/../helpers.sh"
B=$(cd "$BUILD" && pwd) || fail "no build directory $BUILD"
d=$(mktemp -d)
cleanup_add "rm -rf $d"
# A make of its own, not a job of the make that runs the suite.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$REPO" --no-print-directory B="$B" "$@"; }

# The files the tree says should be installed, as "MODE PATH" lines.
expected() {
	local p
	for p in blkbackd blkbackctl; do echo "755 /usr/sbin/$p"; done
	for p in xensim blkfront; do echo "755 /usr/bin/$p"; done
	for p in libxengnttab.so.1 libxenevtchn.so.1 libxenctrl.so.4.17; do echo "644 /usr/lib/xensim/$p"; done
	echo "644 /usr/lib/blkbackd/engines/rbd.so"
	for p in "$REPO"/docs/*.8; do echo "644 /usr/share/man/man8/$(basename "$p")"; done
	for p in "$REPO"/docs/*.1; do echo "644 /usr/share/man/man1/$(basename "$p")"; done
	echo "644 /lib/systemd/system/blkbackd.service"
	[ ! -f "$REPO/tools/hotplug/blkbackd" ] || echo "755 /etc/xen/scripts/blkbackd"
}
installed() { (cd "$1" && find . -type f -printf '%m /%P\n' | sort); }

OUT=$(mk install DESTDIR="$d/pkg" PREFIX=/usr 2>&1) || fail "make install failed: $OUT"
want=$(expected | sort)
got=$(installed "$d/pkg")
[ "$got" = "$want" ] || fail "make install PREFIX=/usr installed
$got
instead of
$want"
# Man pages in both sections, at least blkbackd(8): the wildcard must not come up empty.
grep -q ' /usr/share/man/man8/blkbackd.8$' <<<"$got" || fail "blkbackd.8 not installed"
grep -q ' /usr/share/man/man1/xensim.1$' <<<"$got" || fail "xensim.1 not installed"
for f in blkbackd blkbackctl; do
	cmp -s "$B/$f" "$d/pkg/usr/sbin/$f" || fail "/usr/sbin/$f is not the build's $f"
done
cmp -s "$B/engines/rbd.so" "$d/pkg/usr/lib/blkbackd/engines/rbd.so" ||
	fail "/usr/lib/blkbackd/engines/rbd.so is not the build's engines/rbd.so"
unit=$d/pkg/lib/systemd/system/blkbackd.service
grep -q '@' "$unit" && fail "a placeholder is left in the unit: $(grep '@' "$unit")"
grep -qx 'ExecStart=/usr/sbin/blkbackd --daemon $BLKBACKD_OPTS' "$unit" ||
	fail "the unit does not run /usr/sbin/blkbackd: $(grep ^ExecStart "$unit")"
grep -qx 'ExecStop=-/usr/sbin/blkbackctl handover --timeout 45' "$unit" ||
	fail "the unit does not stop with /usr/sbin/blkbackctl: $(grep ^ExecStop "$unit")"
echo "PASS install PREFIX=/usr: $(wc -l <<<"$got") files"

OUT=$(mk uninstall DESTDIR="$d/pkg" PREFIX=/usr 2>&1) || fail "make uninstall failed: $OUT"
left=$(installed "$d/pkg")
[ -z "$left" ] || fail "make uninstall left: $left"
echo "PASS uninstall PREFIX=/usr: no file left"

# The default PREFIX, /usr/local: the unit where systemd looks below it, naming its binaries.
OUT=$(mk install DESTDIR="$d/local" 2>&1) || fail "make install failed: $OUT"
unit=$d/local/usr/local/lib/systemd/system/blkbackd.service
[ -f "$unit" ] || fail "no unit in /usr/local/lib/systemd/system: $(installed "$d/local")"
grep -qx 'ExecStart=/usr/local/sbin/blkbackd --daemon $BLKBACKD_OPTS' "$unit" ||
	fail "the /usr/local unit runs $(grep ^ExecStart "$unit")"
[ -x "$d/local/usr/local/sbin/blkbackd" ] || fail "no /usr/local/sbin/blkbackd"
[ -f "$d/local/usr/local/lib/blkbackd/engines/rbd.so" ] ||
	fail "no /usr/local/lib/blkbackd/engines/rbd.so under the default PREFIX"
OUT=$(mk uninstall DESTDIR="$d/local" 2>&1) || fail "make uninstall failed: $OUT"
left=$(installed "$d/local")
[ -z "$left" ] || fail "make uninstall left: $left"
echo "PASS install and uninstall under /usr/local"
