#!/usr/bin/env bash
# Install what building and testing blkbackd needs on Debian 12, saying what.
#   tools/install-deps.sh           everything: the build, the tests and the real-Xen bench
#   tools/install-deps.sh --build   only what `make` needs to build the programs
#   tools/install-deps.sh --deb     what `make deb` needs: the build, dpkg-buildpackage with
#                                   debhelper (the package's Build-Depends), and lintian
set -euo pipefail
build_only= deb=
case "${1:-}" in
--build) build_only=1 ;;
--deb) build_only=1 deb=1 ;;
"") ;;
*) echo "usage: tools/install-deps.sh [--build | --deb]" >&2; exit 2 ;;
esac

# Build: compiler, pkg-config and the Xen, io_uring and libnbd (the nbd: engine) development
# files.
# Real-Xen bench: QEMU, static busybox and cpio to build the boot images,
# xz/python3 to unpack the guest kernel, e2fsprogs for the guest's mkfs,
# zstd to unpack Debian 13's guest kernel (its bzImage payload is zstd) for the Xen 4.20 bench,
# libc6-dev (libc.a) for the static fio that tests/xen/fio-build.sh builds for its guest.
# Fuzzing (make fuzz, check-fuzz): clang, whose Debian 12 package (clang-14) has libFuzzer.
# Hung-storage tests (tests/sim/hangfs.c, a FUSE file system): libfuse3-dev to build it,
# fuse3 for fusermount3 to unmount it.
# The systemd unit's test (tests/unit/systemd-unit.sh): systemd, for systemd-analyze verify,
# and man-db, whose man it runs to find the pages the unit's Documentation= names.
# The nbd tests (tests/sim/nbd-*.sh): nbdkit, the NBD server they start (memory and file
# plugins, error, delay, blocksize-policy, multi-conn and nozero filters), libnbd-bin for
# nbdinfo, and gnutls-bin for psktool, which makes nbd-tls's pre-shared key.
# The image engines' tests (tests/sim/qcow2-*.sh): qemu-system-common for qemu-storage-daemon,
# which blkbackd starts per image disk, and qemu-utils for qemu-img, which makes and checks
# the images.
# The Debian package (make deb): build-essential, dpkg-dev and debhelper, which
# dpkg-buildpackage checks for, and lintian, which make check runs on the .deb.
# The rbd engine module (build/engines/rbd.so, its own package blkbackd-rbd): librbd-dev and
# librados-dev to build it. Its tests (tests/sim/rbd-*.sh) run a single-node Ceph cluster:
# ceph-mon, ceph-osd and ceph-common (the ceph and rbd CLIs; ceph-mon brings monmaptool);
# with the libraries ~217 MiB. docs/tutorial.md part 4 (tests/sim/tutorial-storage.sh) makes
# such a cluster with the same commands a reader runs, and serves a qcow2 image with
# qemu-utils and qemu-system-common.
pkgs=(gcc make pkg-config libxen-dev liburing-dev libnbd-dev librbd-dev librados-dev)
[ -n "$build_only" ] ||
	pkgs+=(clang qemu-system-x86 busybox-static cpio xz-utils python3 e2fsprogs zstd libc6-dev
	       fuse3 libfuse3-dev systemd man-db nbdkit libnbd-bin gnutls-bin ceph-mon ceph-osd
	       ceph-common qemu-system-common qemu-utils)
[ -z "$deb" ] || pkgs+=(build-essential dpkg-dev debhelper lintian)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
# The bench downloads Xen and a kernel with apt-get download: it needs package lists.
if [ -z "$build_only" ] && ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
	[ "$(id -u)" -eq 0 ] || { echo "install-deps: no apt package lists; run: sudo apt-get update" >&2; exit 1; }
	echo "install-deps: fetching the apt package lists (apt-get update)"
	apt-get update -qq
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: need root to run apt-get; run: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
