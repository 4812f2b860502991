# Sourced by the tests/sim/rbd-*.sh tests, after tests/helpers.sh: the simulator, blkbackd's
# helpers and the Ceph fixture, and what every process of theirs that opens an rbd disk needs.
#   BLKBACKD_ENGINE_DIR   the build's engine modules (build/engines), not the installed ones
#   rbd_cluster NAME [BASE] a fresh cluster in $dir, a new directory NAME.XXXXXX under BASE
#                         (/tmp), removed at exit; CEPH_STORE picks the OSD's store
#   (no leak suppressions: librbd and librados report none under LSan here)
source "$REPO/tests/sim/lib.sh"
source "$REPO/tests/sim/lib-blkback.sh"
source "$REPO/tests/lib-ceph.sh"
requires python3
export BLKBACKD_ENGINE_DIR=$BUILD/engines
[ -f "$BLKBACKD_ENGINE_DIR/rbd.so" ] || fail "$BLKBACKD_ENGINE_DIR/rbd.so is not built: run make"

rbd_cluster() {
	dir=$(mktemp -d "${2:-/tmp}/$1.XXXXXX") || fail "mktemp failed"
	cleanup_add "rm -rf $dir"
	ceph_start "$dir/ceph"
}
