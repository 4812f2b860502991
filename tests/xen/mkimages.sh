#!/bin/bash
# Build what the bench boots into $CACHE/build: xen, vmlinuz (dom0), vmlinux (guest),
# guest.cpio (guest initramfs) and dom0.cpio (dom0 initramfs with the guest images inside).
set -euo pipefail
. "$(dirname "$0")/common.sh"

BLKBACK_BUILD=${BLKBACK_BUILD:-$REPO/build}
DEBLIBS=$ROOT/usr/lib/x86_64-linux-gnu
# xen-gntalloc and xen-evtchn give the userspace blkfront /dev/xen/gntalloc and /dev/xen/evtchn;
# /dev/xen/xenbus (libxenstore's way in from a domU) is built in, so the guest needs no xenfs
GUEST_MODULES=(xen-blkfront xen-gntalloc xen-evtchn ext4 crc32c_generic)
DOM0_MODULES=(xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs loop ext4 crc32c_generic)
# The 4.20 dom0 also runs the kernel's own block backend: the xl scenario proves a disk it serves
# (kind vbd) beside blkbackd's (kind vbd3) in one guest. The 4.17 dom0 leaves it out: there
# blkbackd may serve kind vbd, which xen-blkback would also take.
[ "$XEN_VER" = 4.17 ] || DOM0_MODULES+=(xen-blkback)
# Debian 12's binaries resolve their libraries with the host's ldd (the host is Debian 12);
# Debian 13's Xen tools need its glibc 2.41, so that release's images take Debian 13's C library
# and loader, and every binary's libraries are resolved by that loader (ld.so --list).
TRIXIE_LOADER=$ROOT/usr/lib64/ld-linux-x86-64.so.2
XENBIN=/usr/lib/xen-$XEN_VER/bin
DOM0_XEN_TOOLS=(xl xenstored xenconsoled xenconsole xen-init-dom0 libxl-save-helper)

# Copy file $2 into staging tree $1 as path $3 (following symlinks in the source; an existing
# destination, e.g. a busybox applet link, is replaced, never written through).
put() {
    mkdir -p "$1/$(dirname "$3")"
    rm -f "$1/$3"
    cp -L "$2" "$1/$3"
}

# Print the libraries that the binaries $@ need, as ldd prints them: with the host's ldd for
# Debian 12, with Debian 13's own loader for Debian 13 (libraries not in the debs come from the
# host, e.g. bash's and e2fsprogs'; they run on the newer glibc).
list_libs() {
    local bin
    for bin; do
        if [ "$DEBIAN_SUITE" = bookworm ]; then
            LD_LIBRARY_PATH=$DEBLIBS ldd "$bin" 2>/dev/null || true
        else
            "$TRIXIE_LOADER" --library-path "$DEBLIBS" --list "$bin" 2>/dev/null || true
        fi
    done
}

# Copy the shared libraries and loader that the binaries $2... need into staging tree $1, and
# libgcc_s: glibc dlopens it for pthread_cancel and ldd does not list it (xl aborts without it,
# and so does anything closing a libxenstore handle that has a watch: xs_close cancels the
# handle's reader thread).
put_libs() {
    local stage=$1 line lib gcc=/lib/x86_64-linux-gnu/libgcc_s.so.1
    shift
    while read -r line; do
        case $line in
        *"not found"*) die "a binary needs ${line%% *}, which is neither in the debs nor on the host" ;;
        /*ld-linux*"=> /"*) put "$stage" "${line#*=> }" lib64/ld-linux-x86-64.so.2 ;;
        *"=> /"*) lib=${line#*=> }; put "$stage" "$lib" "lib/x86_64-linux-gnu/${lib##*/}" ;;
        /*ld-linux*) put "$stage" "$line" lib64/ld-linux-x86-64.so.2 ;;
        esac
    done < <(list_libs "$@" | sed 's/ (0x[0-9a-f]*)$//' | sort -u)
    [ "$DEBIAN_SUITE" = bookworm ] || gcc=$DEBLIBS/libgcc_s.so.1
    put "$stage" "$gcc" lib/x86_64-linux-gnu/libgcc_s.so.1
}

# On Debian 13, run each of the project's binaries given (built on this Debian 12 machine) with
# Debian 13's loader and libraries only, every symbol bound at start (LD_BIND_NOW): a soname
# or symbol version the Debian 13 libraries lack stops the build here, not in dom0.
check_trixie_abi() {
    local bin arg ran=
    [ "$DEBIAN_SUITE" = trixie ] || return 0
    for bin; do
        [ -x "$bin" ] || continue
        case $bin in *hostile) arg=--list ;; *) arg=--version ;; esac
        LD_BIND_NOW=1 "$TRIXIE_LOADER" --inhibit-cache --library-path "$DEBLIBS" "$bin" "$arg" \
            >/dev/null 2>"$BUILD/abi.err" || die "${bin##*/} does not run on Debian 13's libraries: $(head -n3 "$BUILD/abi.err")"
        ran+=" ${bin##*/}"
    done
    say "run on Debian 13's glibc and Xen libraries alone:${ran:- nothing built}"
}

# Install static busybox and its applet links into staging tree $1 (the link tree is made once).
put_busybox() {
    local tree=$BUILD/busybox.d applet
    if [ ! -d "$tree" ] || [ "$(command -v busybox)" -nt "$tree" ]; then
        rm -rf "$tree.tmp" && mkdir -p "$tree.tmp/bin"
        cp "$(command -v busybox)" "$tree.tmp/bin/busybox"
        for applet in $("$tree.tmp/bin/busybox" --list-full); do
            [ -e "$tree.tmp/$applet" ] || { mkdir -p "$tree.tmp/${applet%/*}"; ln -s /bin/busybox "$tree.tmp/$applet"; }
        done
        rm -rf "$tree" && mv "$tree.tmp" "$tree"
    fi
    cp -a "$tree/." "$1/"
}

# Print the module files (relative to the modules dir) for modules $@, dependencies first.
module_files() {
    local name line dep
    for name; do
        line=$(grep -m1 -E "(^|/)$name\.ko(\.xz)?:" "$MODDIR/modules.dep") || die "module $name not found in $MODDIR"
        for dep in ${line#*:}; do dep=${dep##*/}; module_files "${dep%%.ko*}"; done
        echo "${line%%:*}"
    done
}

# Copy module file $2 (relative to the modules dir) into staging tree $1, uncompressed.
put_module_file() {
    case $2 in
    *.ko.xz)
        mkdir -p "$1/lib/modules/$KVER/$(dirname "$2")"
        xz -dc "$MODDIR/$2" > "$1/lib/modules/$KVER/${2%.xz}" || die "cannot unpack module $2" ;;
    *) put "$1" "$MODDIR/$2" "lib/modules/$KVER/$2" ;;
    esac
}

# Copy modules $2... with their dependencies into staging tree $1 and list them in load order.
# Debian 13's are .ko.xz: they are staged uncompressed, as .ko (busybox insmod loads them as
# they are, and the kernel's own decompression would need a flag insmod does not pass).
put_modules() {
    local stage=$1 rel
    shift
    mkdir -p "$stage/etc"
    module_files "$@" | awk '!seen[$0]++' > "$stage/etc/bench-modules.src"
    while read -r rel; do put_module_file "$stage" "$rel"; done < "$stage/etc/bench-modules.src"
    sed 's/\.ko\.xz$/.ko/' "$stage/etc/bench-modules.src" > "$stage/etc/bench-modules"
    rm "$stage/etc/bench-modules.src"
}

# Write staging tree $1 as an uncompressed newc cpio archive $2.
mkcpio() {
    (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$2.tmp"
    mv "$2.tmp" "$2"
}

# Print the first 4 bytes (hex) of bzImage $1's compressed payload, located by its setup header.
payload_magic() {
    python3 -c 'import struct, sys
d = open(sys.argv[1], "rb").read()
off = ((d[0x1f1] or 4) + 1) * 512 + struct.unpack_from("<I", d, 0x248)[0]
print(d[off:off + 4].hex())' "$1" 2>/dev/null || true
}

# Extract the ELF vmlinux from bzImage $1 into $2: Debian 12's payload is XZ (python3 lzma, else
# xz), Debian 13's zstd (zstd -dc of the payload that the setup header locates, less the 4-byte
# size the kernel build appends to it).
extract_vmlinux() {
    local off
    if [ "$(payload_magic "$1")" = 28b52ffd ]; then
        command -v zstd >/dev/null || die "the $XEN_VER guest kernel is zstd-compressed: apt-get install zstd"
        python3 - "$1" <<'PY2' | zstd -dcq > "$2.tmp" || die "cannot unpack the zstd guest kernel $1"
import struct, sys
data = open(sys.argv[1], "rb").read()
setup = (data[0x1f1] or 4) + 1
off, length = struct.unpack_from("<II", data, 0x248)
payload = data[setup * 512 + off: setup * 512 + off + length - 4]
if payload[:4] != b"\x28\xb5\x2f\xfd":
    sys.exit("no zstd payload where the setup header says in " + sys.argv[1])
sys.stdout.buffer.write(payload)
PY2
    elif command -v python3 >/dev/null && python3 -c 'import lzma' 2>/dev/null; then
        python3 - "$1" "$2.tmp" <<'PY'
import lzma, sys
data = open(sys.argv[1], "rb").read()
off = data.find(b"\xfd7zXZ\x00")
if off < 0:
    sys.exit("no XZ payload in " + sys.argv[1])
open(sys.argv[2], "wb").write(lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(data[off:]))
PY
    else
        command -v xz >/dev/null || die "need python3 (with lzma) or xz to unpack the guest kernel"
        off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | head -n1 | cut -d: -f1)
        [ -n "$off" ] || die "no XZ payload in $1"
        # xz stops after the stream: read from a process substitution so tail's SIGPIPE is moot
        xz -dc --single-stream < <(tail -c +$((off + 1)) "$1") > "$2.tmp"
    fi
    [ "$(head -c4 "$2.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || die "unpacked guest kernel is not an ELF file"
    mv "$2.tmp" "$2"
}

# Build the guest initramfs: busybox, the modules, e2fsprogs, xenstore-read, the userspace
# blkfront and the malicious frontend hostile with the Debian Xen libraries (not the
# simulator's), /init = guest.sh.
build_guest() {
    local stage=$BUILD/guest.d tool bins=()
    rm -rf "$stage" && mkdir -p "$stage"/{dev,proc,sys,tmp,mnt,etc}
    put_busybox "$stage"
    put_modules "$stage" "${GUEST_MODULES[@]}"
    for tool in mke2fs e2fsck; do
        put "$stage" "$(PATH=/usr/sbin:/sbin:$PATH command -v $tool)" "sbin/$tool" ||
            die "e2fsprogs not found on the host: apt-get install e2fsprogs"
    done
    ln -sfn mke2fs "$stage/sbin/mkfs.ext4"
    ln -sfn e2fsck "$stage/sbin/fsck.ext4"
    bins+=("$stage/sbin/mke2fs" "$stage/sbin/e2fsck")
    # xenstore-read: dom0 gives the guest its word through a xenstore node (mq_round)
    put "$stage" "$ROOT/usr/bin/xenstore-read" usr/bin/xenstore-read
    bins+=("$stage/usr/bin/xenstore-read")
    # the userspace frontend and the malicious one, both on libblkfront
    for tool in blkfront tests/hostile/hostile; do
        if [ -x "$BLKBACK_BUILD/$tool" ]; then
            put "$stage" "$BLKBACK_BUILD/$tool" "usr/bin/${tool##*/}"
            bins+=("$stage/usr/bin/${tool##*/}")
        else
            say "note: $BLKBACK_BUILD/$tool not built; the guest image has no ${tool##*/}"
        fi
    done
    put_libs "$stage" "${bins[@]}"
    # fio for the xl scenario's fio-verify (4.20): static, built once into the cache
    if [ "$XEN_VER" = 4.20 ]; then
        put "$stage" "$("$XEN_DIR/fio-build.sh")" usr/bin/fio || die "no fio for the guest"
    fi
    [ -f /etc/mke2fs.conf ] && put "$stage" /etc/mke2fs.conf etc/mke2fs.conf
    put "$stage" "$XEN_DIR/guest.sh" init
    chmod 755 "$stage/init"
    mkcpio "$stage" "$BUILD/guest.cpio"
}

# Install the project's xl hotplug script (tools/hotplug/blkbackd) into staging tree $1, where
# libxl runs it for a disk with script=blkbackd: /etc/xen/scripts/blkbackd.
put_hotplug() {
    put "$1" "$REPO/tools/hotplug/blkbackd" etc/xen/scripts/blkbackd
    chmod 755 "$1/etc/xen/scripts/blkbackd"
}

# Install the Debian package XEN_BENCH_DEB (make deb) into staging tree $1, as dpkg puts its
# files (dpkg -x: the initramfs dom0 has no dpkg database and no systemd to run its
# maintainer scripts), and record its name and version in /etc/bench-deb for the deb-install
# step. blkbackd, blkbackctl, the hotplug script and the unit then come from the package.
put_deb() {
    [ -f "$XEN_BENCH_DEB" ] || die "XEN_BENCH_DEB names no file: $XEN_BENCH_DEB (make deb builds it)"
    dpkg -x "$XEN_BENCH_DEB" "$1" || die "cannot unpack $XEN_BENCH_DEB"
    dpkg-deb -f "$XEN_BENCH_DEB" Package Version > "$1/etc/bench-deb" ||
        die "cannot read the control fields of $XEN_BENCH_DEB"
    say "dom0 runs blkbackd from the package ${XEN_BENCH_DEB##*/}"
}

# The xl scenario's storage servers (4.20), from Debian 13's packages, into staging tree $1, and
# their paths onto build_dom0's bins (for put_libs): nbdkit with its memory plugin (nbd-guest),
# qemu-storage-daemon, which blkbackd finds in PATH and starts for a qcow2: disk, and qemu-img,
# which makes and checks the image (qcow2-guest). With their libraries they add ~13 MB to dom0.cpio.
STORAGE_SERVERS=(usr/bin/nbdkit usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-memory-plugin.so
    usr/bin/qemu-storage-daemon usr/bin/qemu-img)
put_storage_servers() {
    local t
    for t in "${STORAGE_SERVERS[@]}"; do
        [ -f "$ROOT/$t" ] || die "$ROOT/$t missing: rm $CACHE/fetch.stamp; tests/xen/fetch.sh"
        put "$1" "$ROOT/$t" "$t"
        bins+=("$1/$t")
    done
}

# perf into staging tree $1 for the bench scenario's profiles (dom0-bench.sh), its path onto
# build_dom0's bins: with its libraries ~40 MB, so only the image of a bench boot has it.
put_perf() {
    [ -f "$ROOT/usr/bin/perf" ] || die "$ROOT/usr/bin/perf missing: rm $CACHE/fetch.stamp; tests/xen/fetch.sh"
    put "$1" "$ROOT/usr/bin/perf" usr/bin/perf
    bins+=("$1/usr/bin/perf")
}

# Build the dom0 initramfs: Xen userspace, blkbackd/blkbackctl, guest images, bench scripts.
build_dom0() {
    local stage=$BUILD/dom0.d t f bins=()
    rm -rf "$stage" && mkdir -p "$stage"/{dev,proc,sys,tmp,run,var/lib/xen,var/log/xen/console}
    ln -s ../run "$stage/var/run"
    put_busybox "$stage"
    put_modules "$stage" "${DOM0_MODULES[@]}"
    # brd (no dependencies), for the bench scenario's kernel ramdisk: staged, not loaded at
    # boot (dom0-bench.sh loads it with its own size); absent from a kernel without it
    if [ "$XEN_VER" = 4.20 ] && grep -qE '(^|/)brd\.ko(\.xz)?:' "$MODDIR/modules.dep"; then
        put_module_file "$stage" "$(module_files brd)"
    fi
    put "$stage" "$(command -v bash)" bin/bash
    put "$stage" "$(command -v flock)" usr/bin/flock
    bins+=("$stage/bin/bash" "$stage/usr/bin/flock")
    for t in "${DOM0_XEN_TOOLS[@]}"; do
        put "$stage" "$ROOT$XENBIN/$t" "$XENBIN/$t"
        bins+=("$stage$XENBIN/$t")
    done
    for f in "$ROOT"/usr/bin/xenstore*; do
        [ -L "$f" ] && continue                       # xen-utils-wrapper links
        put "$stage" "$f" "usr/bin/${f##*/}"
        bins+=("$stage/usr/bin/${f##*/}")
    done
    cp -a "$ROOT/etc/xen" "$stage/etc/xen"
    # mkfs.ext4 for the disk images' file system (tmpfs has no O_DIRECT on 6.1)
    put "$stage" "$(PATH=/usr/sbin:/sbin:$PATH command -v mke2fs)" sbin/mke2fs
    bins+=("$stage/sbin/mke2fs")
    [ -f /etc/mke2fs.conf ] && put "$stage" /etc/mke2fs.conf etc/mke2fs.conf
    if [ -n "${XEN_BENCH_DEB:-}" ]; then
        put_deb "$stage"
        bins+=("$stage/usr/sbin/blkbackd" "$stage/usr/sbin/blkbackctl")
    else
        for t in blkbackd blkbackctl; do
            if [ -x "$BLKBACK_BUILD/$t" ]; then
                put "$stage" "$BLKBACK_BUILD/$t" "usr/sbin/$t"
                bins+=("$stage/usr/sbin/$t")
            else
                say "note: $BLKBACK_BUILD/$t not built; the image has no $t"
            fi
        done
        put_hotplug "$stage"
    fi
    [ "$XEN_VER" = 4.17 ] || put_storage_servers "$stage"
    [ "$XEN_VER" = 4.17 ] || [ "${XEN_SCENARIO:-}" != bench ] || put_perf "$stage"
    put_libs "$stage" "${bins[@]}"
    check_trixie_abi "$stage/usr/sbin/blkbackd" "$stage/usr/sbin/blkbackctl" \
        "$BLKBACK_BUILD/blkfront" "$BLKBACK_BUILD/tests/hostile/hostile"
    echo "$XEN_VER" > "$stage/etc/bench-release"
    mkdir -p "$stage/boot/guest"                       # hard links: these are big
    ln "$BUILD/vmlinux" "$stage/boot/guest/vmlinux"
    ln "$BUILD/guest.cpio" "$stage/boot/guest/initrd.cpio"
    put "$stage" "$XEN_DIR/dom0-init.sh" init
    for f in "$XEN_DIR"/lib.sh "$XEN_DIR"/dom0-*.sh "$XEN_DIR"/xl-*.sh "$XEN_DIR"/*.steps; do put "$stage" "$f" "bench/${f##*/}"; done
    # docs/xl.md, whose walkthrough step xl-doc runs (xl-doc.sh)
    put "$stage" "$REPO/docs/xl.md" bench/xl.md
    chmod 755 "$stage/init" "$stage"/bench/*.sh
    mkcpio "$stage" "$BUILD/dom0.cpio"
}

main() {
    [ -d "$ROOT" ] || die "$ROOT missing: run tests/xen/fetch.sh first"
    MODDIR=$(echo "$(modules_base "$ROOT")"/lib/modules/*)
    KVER=${MODDIR##*/}
    [ -f "$MODDIR/modules.dep" ] || die "$MODDIR/modules.dep missing: rm $CACHE/fetch.stamp; tests/xen/fetch.sh"
    command -v busybox >/dev/null || die "busybox not found: apt-get install busybox-static"
    command -v cpio >/dev/null || die "cpio not found: apt-get install cpio"
    mkdir -p "$BUILD"
    [ "$BUILD/xen" -nt "$ROOT/boot/xen-$XEN_VER-amd64.gz" ] ||
        gunzip -c "$ROOT/boot/xen-$XEN_VER-amd64.gz" > "$BUILD/xen"
    cp -u "$ROOT/boot/vmlinuz-$KVER" "$BUILD/vmlinuz"
    [ "$BUILD/vmlinux" -nt "$BUILD/vmlinuz" ] || { say "unpacking guest kernel"; extract_vmlinux "$BUILD/vmlinuz" "$BUILD/vmlinux"; }
    build_guest
    build_dom0
    say "images ready in $BUILD (kernel $KVER; dom0.cpio $(du -m "$BUILD/dom0.cpio" | cut -f1) MB)"
}

main "$@"
