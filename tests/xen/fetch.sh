#!/bin/bash
# Download the Debian packages for the real-Xen bench of release $XEN_VER and unpack them into
# $CACHE/root. Xen 4.17 comes from Debian 12 through the machine's own apt sources; Xen 4.20
# from Debian 13 through a source list and apt state kept in $CACHE/apt (the machine's apt
# configuration is never touched), with Debian 13's C library: its tools need glibc 2.41.
set -euo pipefail
. "$(dirname "$0")/common.sh"

XEN_PKGS=("xen-hypervisor-$XEN_VER-amd64" "xen-utils-$XEN_VER" xen-utils-common xenstore-utils
    "libxenmisc$XEN_VER" libxenstore4 libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1
    libxendevicemodel1 libxenhypfs1 libxentoolcore1 libxentoollog1 libyajl2)
# Debian 13's run-time libraries for its Xen tools and for the project's binaries (built on
# Debian 12: same sonames, and glibc runs older binaries): dom0 and the guest get these, and
# whatever else a binary needs (bash's, e2fsprogs') comes from the host.
TRIXIE_LIBS=(libc6 libgcc-s1 libtinfo6 libncurses6 libext2fs2t64 liblzma5 libuuid1 libzstd1
    zlib1g liburing2)
# The NBD and image servers that dom0 runs for the xl scenario's nbd-guest and qcow2-guest
# (nbdkit with its memory plugin; qemu-storage-daemon, which blkbackd starts for a qcow2: disk,
# and qemu-img, which makes and checks the image), and the Debian 13 libraries they need beyond
# TRIXIE_LIBS (Debian 12's are too old for them: glib 2.78 and gnutls 3.8 at least). Only the
# binaries and the libraries they load go into dom0 (mkimages.sh), not the packages' rest.
TRIXIE_STORAGE=(nbdkit qemu-system-common qemu-utils libglib2.0-0t64 libgnutls30t64 libp11-kit0
    libidn2-0 libunistring5 libtasn1-6 libnettle8t64 libhogweed6t64 libgmp10 libffi8 libpcre2-8-0
    libselinux1 libfuse3-4 libaio1t64 libnuma1 libatomic1)
# perf, for the bench scenario's dom0 profiles (mkimages.sh puts it in that image only), and
# the Debian 13 libraries it loads that Debian 12's are too old for or lack.
TRIXIE_PERF=(linux-perf libbabeltrace1 libdebuginfod1t64 libdw1t64 libelf1t64 libopencsd1
    libperl5.40 libpython3.13 libslang2 libstdc++6 libtraceevent1 libunwind8 libexpat1)
APT_DIR=$CACHE/apt
APT=()

# Point apt (the options in APT) at Debian 13 through a source list and state kept in the
# cache, and fetch its package lists when they are missing or a day old.
setup_trixie_apt() {
    local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mirror=$(system_mirror)
    [ -n "$mirror" ] || die "cannot tell the machine's Debian mirror from apt; set XEN_BENCH_MIRROR"
    [ -f "$keyring" ] || die "$keyring missing: apt-get install debian-archive-keyring"
    mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
    echo "deb [signed-by=$keyring] $mirror $DEBIAN_SUITE main" > "$APT_DIR/sources.list.new"
    cmp -s "$APT_DIR/sources.list.new" "$APT_DIR/sources.list" || rm -f "$APT_DIR/update.stamp"
    mv "$APT_DIR/sources.list.new" "$APT_DIR/sources.list"
    APT=(-o "Dir::Etc::sourcelist=$APT_DIR/sources.list" -o Dir::Etc::sourceparts=-
        -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache"
        -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
    if [ -z "$(find "$APT_DIR/update.stamp" -mmin -1440 2>/dev/null)" ]; then
        say "fetching Debian 13 ($DEBIAN_SUITE) package lists from $mirror into $APT_DIR"
        apt-get "${APT[@]}" update -qq || die "apt-get update of $APT_DIR/sources.list failed"
        touch "$APT_DIR/update.stamp"
    fi
}

# Name the kernel package that the linux-image-amd64 metapackage currently depends on.
kernel_pkg() {
    apt-cache "${APT[@]}" depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

main() {
    command -v apt-get >/dev/null || die "apt-get not found: the bench needs a Debian host"
    command -v busybox >/dev/null || die "busybox not found: apt-get install busybox-static"
    local kpkg pkgs stamp=$CACHE/fetch.stamp
    mkdir -p "$CACHE"
    # keep the cache out of git whatever the repository's .gitignore says
    echo '*' > "$CACHE/.gitignore"
    pkgs=("${XEN_PKGS[@]}")
    if [ "$DEBIAN_SUITE" = trixie ]; then
        setup_trixie_apt
        pkgs+=("${TRIXIE_LIBS[@]}" "${TRIXIE_STORAGE[@]}" "${TRIXIE_PERF[@]}")
    fi
    kpkg=$(kernel_pkg)
    [ -n "$kpkg" ] || die "cannot tell which kernel linux-image-amd64 depends on (run apt-get update)"
    pkgs+=("$kpkg")
    if [ -d "$ROOT" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${pkgs[*]}" ]; then
        say "cache up to date ($CACHE)"
        return
    fi
    mkdir -p "$CACHE/debs"
    say "downloading into $CACHE/debs: ${pkgs[*]}"
    (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "${APT[@]}" "${pkgs[@]}") ||
        die "apt-get download failed (is the apt cache current? try apt-get update)"
    rm -rf "$ROOT.tmp" && mkdir -p "$ROOT.tmp"
    local p deb base
    for p in "${pkgs[@]}"; do
        deb=$(ls -t "$CACHE/debs/${p}_"*.deb | head -n1) || die "no .deb downloaded for $p"
        say "unpacking ${deb##*/}"
        dpkg -x "$deb" "$ROOT.tmp"
    done
    # busybox depmod reads Debian 13's .ko.xz modules too (it decompresses each: ~20 s)
    say "indexing kernel modules (busybox depmod)"
    base=$(modules_base "$ROOT.tmp")
    busybox depmod -b "$base" "$(ls "$base/lib/modules")" || die "depmod failed"
    rm -rf "$ROOT" && mv "$ROOT.tmp" "$ROOT"
    echo "${pkgs[*]}" > "$stamp"
    say "done: $ROOT"
}

main "$@"
