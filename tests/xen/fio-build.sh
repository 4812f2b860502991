#!/bin/bash
# Build a static fio for the xl scenario's guest (step fio-verify) into $FIO_DIR (.cache/fio),
# once: from Debian 12's fio source package, fetched with apt-get source through a deb-src
# list and apt state kept in $FIO_DIR/apt (the machine's apt configuration is never touched),
# configured with --build-static and without the engines that need libraries (rbd, rados,
# gluster, pmem, rdma, nfs, nbd, http...). Debian's own fio binary would bring ~12 shared
# libraries (librados2 and librbd1 alone are 23 MB installed) into a 128 MiB guest's
# initramfs; the static one is one file of a few MB, and its io_uring and libaio engines need
# no library (io_uring is fio's own syscalls). Prints the binary's path on stdout.
set -euo pipefail
. "$(dirname "$0")/common.sh"

FIO_DIR=${XEN_BENCH_CACHE:-$REPO/.cache}/fio
FIO_BIN=$FIO_DIR/fio
SRC_SUITE=bookworm
# the engines and features that would link a library, or that the guest has no use for
# (gfio, libnbd, libiscsi, libblkio, cuda are off unless enabled); --disable-native: the guest's
# CPU is not the build machine's
DISABLE=(--disable-numa --disable-rdma --disable-rados --disable-rbd --disable-http
    --disable-gfapi --disable-libnfs --disable-pmem --disable-lex --disable-xnvme
    --disable-libzbc --disable-tcmalloc --disable-dfs --disable-native)

# Download fio's Debian 12 source package into $FIO_DIR/src through a deb-src list kept in
# $FIO_DIR/apt, and unpack its upstream tarball into $FIO_DIR/src/fio.
fetch_source() {
    local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg apt=$FIO_DIR/apt opts tarball
    mirror=$(system_mirror)
    [ -n "$mirror" ] || die "cannot tell the machine's Debian mirror from apt; set XEN_BENCH_MIRROR"
    [ -f "$keyring" ] || die "$keyring missing: apt-get install debian-archive-keyring"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$FIO_DIR/src"
    echo "deb-src [signed-by=$keyring] $mirror $SRC_SUITE main" > "$apt/sources.list"
    opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
        -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
    say "fetching Debian 12 ($SRC_SUITE) source lists from $mirror into $apt"
    apt-get "${opts[@]}" update -qq || die "apt-get update of $apt/sources.list failed"
    rm -rf "$FIO_DIR/src" && mkdir -p "$FIO_DIR/src"
    (cd "$FIO_DIR/src" && apt-get "${opts[@]}" source --download-only -qq fio) ||
        die "apt-get source --download-only fio failed"
    tarball=$(ls "$FIO_DIR"/src/fio_*.orig.tar.* | head -n1) || die "no fio .orig tarball downloaded"
    mkdir -p "$FIO_DIR/src/fio"
    tar -xf "$tarball" -C "$FIO_DIR/src/fio" --strip-components=1 || die "cannot unpack $tarball"
}

# Configure and build fio statically in $FIO_DIR/src/fio; install it stripped as $FIO_BIN.
build() {
    local src=$FIO_DIR/src/fio jobs
    jobs=$(nproc 2>/dev/null || echo 1)
    say "building a static fio in $src (log: $FIO_DIR/build.log)"
    (cd "$src" && ./configure --build-static "${DISABLE[@]}" && make -j"$jobs" fio) \
        > "$FIO_DIR/build.log" 2>&1 || die "fio build failed: $(tail -n5 "$FIO_DIR/build.log")"
    file_static "$src/fio" || die "$src/fio is not a static executable"
    strip -o "$FIO_BIN.tmp" "$src/fio"
    mv "$FIO_BIN.tmp" "$FIO_BIN"
    say "built $FIO_BIN: $("$FIO_BIN" --version), $(du -k "$FIO_BIN" | cut -f1) KiB"
}

# Succeed if executable $1 needs no dynamic loader (no PT_INTERP program header).
file_static() { ! LC_ALL=C readelf -lW "$1" 2>/dev/null | grep -q 'INTERP'; }

main() {
    if [ -x "$FIO_BIN" ]; then echo "$FIO_BIN"; return; fi
    command -v gcc >/dev/null && command -v make >/dev/null || die "gcc and make are needed to build fio"
    mkdir -p "$FIO_DIR"
    echo '*' > "$FIO_DIR/.gitignore"
    # the cache may be shared between worktrees: one build at a time, and the second finds it
    exec 9> "$FIO_DIR/.lock"
    flock 9
    if [ -x "$FIO_BIN" ]; then echo "$FIO_BIN"; return; fi
    [ -x "$FIO_DIR/src/fio/configure" ] || fetch_source
    build
    echo "$FIO_BIN"
}

main "$@"
