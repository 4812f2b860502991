#!/usr/bin/env bash
# The engine conformance checks (tests/unit/engine-harness.h) on nbd: disks served by real
# nbdkit servers: read/write/verify with many requests in flight, flush, discard (as
# write-zeroes, and as a trim that promises no zeroes), requests split by the server's
# largest block, two queues on one connection where the server has no multi-conn, read-only,
# sizes, a server that fails reads, bad specs, a refused URI, a server that is not there and
# one that never answers.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib-nbd.sh"
requires python3

[ -x "$BUILD/tests/sim/nbd-engine" ] || fail "$BUILD/tests/sim/nbd-engine is not built"
nbd_setup
nbd_server mem memory 8M
nbd_server small --filter=blocksize-policy memory 8M blocksize-minimum=512 \
	blocksize-preferred=4096 blocksize-maximum=8192 blocksize-error-policy=error
nbd_server single --filter=multi-conn memory 8M multi-conn-mode=disable
nbd_server trim --filter=nozero memory 8M
nbd_server ro -r memory 8M
nbd_server err --filter=error memory 8M error=EIO error-pread-rate=100%
# A socket that takes connections and never answers: the open must give up after timeout=.
python3 - "$NBD_DIR/mute.sock" "$NBD_DIR/mute.ready" <<'PY' &
import signal, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
open(sys.argv[2], "w").close()
signal.pause()
PY
mute=$!
cleanup_add "kill $mute 2>/dev/null"
wait_for 10 test -e "$NBD_DIR/mute.ready" || fail "the mute socket did not come up"

"$BUILD/tests/sim/nbd-engine" "$NBD_DIR" || { echo "FAIL nbd-conformance: see above"; exit 1; }
echo "PASS nbd-conformance"
