# Host-side settings shared by fetch.sh, mkimages.sh and run.sh (sourced, not run).
XEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$XEN_DIR/../.." && pwd)
CACHE=${XEN_BENCH_CACHE:-$REPO/.cache/xen}
ROOT=$CACHE/root          # the unpacked Debian packages
BUILD=$CACHE/build        # images made by mkimages.sh
XEN_VER=4.17

# Print an error and stop.
die() { echo "${0##*/}: error: $*" >&2; exit 1; }

# Print a progress line on stderr.
say() { echo "${0##*/}: $*" >&2; }
