# Sourced by the tests/sim/rbd-*.sh tests, after tests/helpers.sh: what every process of
# theirs that opens an rbd disk needs.
#   BLKBACKD_ENGINE_DIR   the build's engine modules (build/engines), not the installed ones
#   (no leak suppressions: librbd and librados report none under LSan here)
export BLKBACKD_ENGINE_DIR=$BUILD/engines
[ -f "$BLKBACKD_ENGINE_DIR/rbd.so" ] || fail "$BLKBACKD_ENGINE_DIR/rbd.so is not built: run make"
