#!/usr/bin/env bash
# The rbd engine's own package, blkbackd-rbd, built beside blkbackd by make deb: the module
# alone, where the packaged blkbackd looks for it (/usr/lib/blkbackd/engines), depending on
# blkbackd of the same version and on librbd and librados, which blkbackd itself does not.
. "$(dirname "$0")/../helpers.sh"
requires dpkg-deb
deb=${BLKBACK_DEB:-}
[ -n "$deb" ] || fail "BLKBACK_DEB is not set: run make check-deb"
version=$(dpkg-deb -f "$deb" Version)
rdeb=$(dirname "$deb")/blkbackd-rbd_${version}_$(dpkg --print-architecture).deb
[ -f "$rdeb" ] || fail "make deb built no $rdeb"
d=$(mktemp -d)
cleanup_add "rm -rf $d"

[ "$(dpkg-deb -f "$rdeb" Package)" = blkbackd-rbd ] || fail "Package: $(dpkg-deb -f "$rdeb" Package)"
depends=$(dpkg-deb -f "$rdeb" Depends)
[[ $depends == *"blkbackd (= $version)"* ]] || fail "Depends does not name blkbackd (= $version): $depends"
for lib in librbd1 librados2 libc6; do
	[[ $depends == *"$lib "* ]] || fail "Depends does not name $lib: $depends"
done
want=$(printf '%s\n' /usr/lib/blkbackd/engines/rbd.so /usr/share/doc/blkbackd-rbd/copyright \
	/usr/share/doc/blkbackd-rbd/changelog.gz | sort)
got=$(dpkg-deb -c "$rdeb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | sort)
[ "$got" = "$want" ] || fail "blkbackd-rbd holds
$got
instead of
$want"
echo "PASS rbd package: the module alone, Depends: $depends"

# The packaged daemon looks where the package puts the module, and the module is of it.
dpkg-deb -x "$deb" "$d/root"
dpkg-deb -x "$rdeb" "$d/root"
grep -qa /usr/lib/blkbackd/engines "$d/root/usr/sbin/blkbackd" ||
	fail "the packaged blkbackd does not look for its engines in /usr/lib/blkbackd/engines"
grep -qa "storage_rbd_ops" "$d/root/usr/lib/blkbackd/engines/rbd.so" ||
	fail "the packaged rbd.so exports no storage_rbd_ops"
echo "PASS the packaged blkbackd loads its engines from where blkbackd-rbd puts rbd.so"
