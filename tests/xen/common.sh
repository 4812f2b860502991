# Host-side settings shared by fetch.sh, mkimages.sh and run.sh (sourced, not run). The Xen
# release comes from XEN_VER (4.17, the default: Debian 12; or 4.20: Debian 13), and each
# release keeps its own cache, so both benches can be built and booted in one make check.
XEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$XEN_DIR/../.." && pwd)
export XEN_VER=${XEN_VER:-4.17}       # fetch.sh and mkimages.sh, run by run.sh, read it too

# Print an error and stop.
die() { echo "${0##*/}: error: $*" >&2; exit 1; }

# Print a progress line on stderr.
say() { echo "${0##*/}: $*" >&2; }

# Print the URI of the machine's own Debian archive (the source of its base suite, not of
# -updates or -security); XEN_BENCH_MIRROR overrides it.
system_mirror() {
    if [ -n "${XEN_BENCH_MIRROR:-}" ]; then echo "$XEN_BENCH_MIRROR"; return; fi
    apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
        awk '$2 !~ /-/ && $1 ~ /^(https?|file):/ { print $1; exit }'
}

# DEBIAN_SUITE: where the release's packages come from. Debian 12's come through the machine's
# own apt sources; Debian 13's through a source list kept inside the cache (fetch.sh).
case $XEN_VER in
4.17) DEBIAN_SUITE=bookworm ;;
4.20) DEBIAN_SUITE=trixie ;;
*) die "XEN_VER=$XEN_VER: the bench knows Xen 4.17 (Debian 12) and 4.20 (Debian 13)" ;;
esac
CACHE=${XEN_BENCH_CACHE:-$REPO/.cache}/xen-$XEN_VER
ROOT=$CACHE/root          # the unpacked Debian packages
BUILD=$CACHE/build        # images made by mkimages.sh

# Print the directory under which tree $1 keeps lib/modules: $1 itself (Debian 12), or $1/usr
# (Debian 13's merged /usr).
modules_base() { if [ -d "$1/usr/lib/modules" ]; then echo "$1/usr"; else echo "$1"; fi; }
