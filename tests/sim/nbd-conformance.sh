#!/usr/bin/env bash
# The engine conformance checks (tests/unit/engine-harness.h) on nbd: disks served by real
# nbdkit servers: read/write/verify with many requests in flight, flush, discard (as
# write-zeroes, and as a trim that promises no zeroes), requests split by the server's
# largest block, two queues on one connection where the server has no multi-conn, read-only,
# sizes, a server that fails reads, and one reap reading every reply the socket holds. (Bad
# specs and servers: tests/sim/nbd-bad-input.sh.)
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib-nbd.sh"

[ -x "$BUILD/tests/sim/nbd-engine" ] || fail "$BUILD/tests/sim/nbd-engine is not built"
nbd_setup
nbd_server mem memory 8M
nbd_server small --filter=blocksize-policy memory 8M blocksize-minimum=512 \
	blocksize-preferred=4096 blocksize-maximum=8192 blocksize-error-policy=error
nbd_server single --filter=multi-conn memory 8M multi-conn-mode=disable
nbd_server trim --filter=nozero memory 8M
nbd_server ro -r memory 8M
nbd_server err --filter=error memory 8M error=EIO error-pread-rate=100%
"$BUILD/tests/sim/nbd-engine" "$NBD_DIR" || { echo "FAIL nbd-conformance: see above"; exit 1; }
echo "PASS nbd-conformance"
