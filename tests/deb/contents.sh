#!/usr/bin/env bash
# The .deb make deb built holds what the real-Xen suite and an administrator need, where
# Debian 12 expects it: the version of blkback/version.h, the Xen and io_uring libraries in
# Depends (and no Ceph library: the rbd engine is a package of its own), exactly the files make install puts (man pages compressed) plus the copyright
# and changelog, a unit that runs /usr/sbin/blkbackd, maintainer scripts that enable and
# start the unit, restart it (the handover path) on upgrade and stop it only on removal, no
# shlibs claim for xensim's private drop-in libraries, and binaries that run.
. "$(dirname "$0")/../helpers.sh"
requires dpkg-deb
deb=${BLKBACK_DEB:-}
[ -n "$deb" ] || fail "BLKBACK_DEB is not set: run make check-deb"
[ -f "$deb" ] || fail "no $deb: make deb did not build it"
d=$(mktemp -d)
cleanup_add "rm -rf $d"

version=$(sed -n 's/^#define BLKBACK_VERSION "\(.*\)"$/\1/p' "$REPO/blkback/version.h")
[ -n "$version" ] || fail "no BLKBACK_VERSION in blkback/version.h"
[ "$(dpkg-deb -f "$deb" Package)" = blkbackd ] || fail "Package: $(dpkg-deb -f "$deb" Package)"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] ||
	fail "Version: $(dpkg-deb -f "$deb" Version), but blkback/version.h says $version"
[[ $deb == */blkbackd_${version}_$(dpkg --print-architecture).deb ]] || fail "the .deb is named $deb"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libxenstore4 libxengnttab1 libxenevtchn1 liburing2 libnbd0 libc6; do
	[[ $depends == *"$lib "* ]] || fail "Depends does not name $lib: $depends"
done
# Ceph's libraries come only with the rbd engine's own package (tests/deb/rbd.sh).
[[ $depends != *librbd* && $depends != *librados* ]] || fail "blkbackd depends on Ceph: $depends"

want=$( {
	printf '%s\n' /usr/sbin/blkbackd /usr/sbin/blkbackctl /usr/bin/xensim /usr/bin/blkfront \
		/usr/lib/xensim/libxengnttab.so.1 /usr/lib/xensim/libxenevtchn.so.1 \
		/usr/lib/xensim/libxenctrl.so.4.17 \
		/lib/systemd/system/blkbackd.service /usr/share/doc/blkbackd/copyright \
		/usr/share/doc/blkbackd/changelog.gz
	for p in "$REPO"/docs/*.8; do echo "/usr/share/man/man8/$(basename "$p").gz"; done
	for p in "$REPO"/docs/*.1; do echo "/usr/share/man/man1/$(basename "$p").gz"; done
	[ ! -f "$REPO/tools/hotplug/blkbackd" ] || echo /etc/xen/scripts/blkbackd
} | sort)
got=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | sort)
[ "$got" = "$want" ] || fail "the .deb holds
$got
instead of
$want"
echo "PASS contents: $(wc -l <<<"$got") files, version $version"

dpkg-deb -x "$deb" "$d/root"
dpkg-deb -e "$deb" "$d/ctl"
unit=$d/root/lib/systemd/system/blkbackd.service
grep -qx 'ExecStart=/usr/sbin/blkbackd --daemon $BLKBACKD_OPTS' "$unit" ||
	fail "the packaged unit runs $(grep ^ExecStart= "$unit")"
grep -qx 'ExecStop=-/usr/sbin/blkbackctl handover --timeout 45' "$unit" ||
	fail "the packaged unit stops with $(grep ^ExecStop= "$unit")"
[ "$("$d/root/usr/sbin/blkbackd" --version)" = "blkbackd $version" ] ||
	fail "the packaged blkbackd says $("$d/root/usr/sbin/blkbackd" --version)"
[ "$("$d/root/usr/sbin/blkbackctl" --version)" = "blkbackctl $version" ] ||
	fail "the packaged blkbackctl says $("$d/root/usr/sbin/blkbackctl" --version)"
if [ -f "$REPO/tools/hotplug/blkbackd" ]; then
	[ -x "$d/root/etc/xen/scripts/blkbackd" ] || fail "the hotplug script is not executable"
	grep -qx /etc/xen/scripts/blkbackd "$d/ctl/conffiles" ||
		fail "/etc/xen/scripts/blkbackd is not a conffile"
fi

# Installed: enabled and started; upgraded: restarted (handover, then the new daemon takes
# the disks over); removed: stopped. Never stopped before an upgrade.
grep -q "deb-systemd-helper enable 'blkbackd.service'" "$d/ctl/postinst" ||
	fail "postinst does not enable blkbackd.service"
grep -q '_dh_action=restart' "$d/ctl/postinst" || fail "postinst does not restart on upgrade"
grep -q "deb-systemd-invoke stop 'blkbackd.service'" "$d/ctl/prerm" || fail "prerm never stops it"
grep -q '"$1" = remove' "$d/ctl/prerm" || fail "prerm stops blkbackd for more than a removal"
# xensim's drop-in libraries carry the sonames of Xen's own: the package must not claim them.
if [ -f "$d/ctl/shlibs" ]; then
	fail "the package declares shlibs: $(cat "$d/ctl/shlibs")"
fi
[ ! -f "$d/ctl/triggers" ] || ! grep -q ldconfig "$d/ctl/triggers" ||
	fail "the package runs ldconfig for its private libraries"
echo "PASS unit, maintainer scripts and binaries of the package"
