#!/bin/bash
# Download the Debian packages for the real-Xen bench and unpack them into $CACHE/root.
set -euo pipefail
. "$(dirname "$0")/common.sh"

XEN_PKGS=("xen-hypervisor-$XEN_VER-amd64" "xen-utils-$XEN_VER" xen-utils-common xenstore-utils
    "libxenmisc$XEN_VER" libxenstore4 libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1
    libxendevicemodel1 libxenhypfs1 libxentoolcore1 libxentoollog1 libyajl2)

# Name the kernel package that the linux-image-amd64 metapackage currently depends on.
kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

main() {
    command -v apt-get >/dev/null || die "apt-get not found: the bench needs a Debian host"
    command -v busybox >/dev/null || die "busybox not found: apt-get install busybox-static"
    local kpkg pkgs stamp=$CACHE/fetch.stamp
    kpkg=$(kernel_pkg)
    [ -n "$kpkg" ] || die "cannot tell which kernel linux-image-amd64 depends on (run apt-get update)"
    pkgs=("${XEN_PKGS[@]}" "$kpkg")
    if [ -d "$ROOT" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${pkgs[*]}" ]; then
        say "cache up to date ($CACHE)"
        return
    fi
    mkdir -p "$CACHE/debs"
    # keep the cache out of git whatever the repository's .gitignore says
    echo '*' > "$CACHE/.gitignore"
    say "downloading into $CACHE/debs: ${pkgs[*]}"
    (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "${pkgs[@]}") ||
        die "apt-get download failed (is the apt cache current? try apt-get update)"
    rm -rf "$ROOT.tmp" && mkdir -p "$ROOT.tmp"
    local p deb
    for p in "${pkgs[@]}"; do
        deb=$(ls -t "$CACHE/debs/${p}_"*.deb | head -n1) || die "no .deb downloaded for $p"
        say "unpacking ${deb##*/}"
        dpkg -x "$deb" "$ROOT.tmp"
    done
    say "indexing kernel modules (busybox depmod)"
    busybox depmod -b "$ROOT.tmp" "$(ls "$ROOT.tmp/lib/modules")" || die "depmod failed"
    rm -rf "$ROOT" && mv "$ROOT.tmp" "$ROOT"
    echo "${pkgs[*]}" > "$stamp"
    say "done: $ROOT"
}

main "$@"
