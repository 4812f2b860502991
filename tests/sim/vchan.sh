#!/usr/bin/env bash
# Xen's own libxenvchan runs unmodified on xensim: a vchan-socket-proxy server in guest1 and
# a client in dom0 carry several MiB each way with equal checksums (gntshr share + notify,
# gnttab map + notify, event channels); then a client is killed and its server, told by the
# unmap notification, ends.
#
# vchan-socket-proxy's client (connect_vchan) always opens libxenctrl, which needs
# /dev/xen/privcmd, to ask whether the server's domain still exists when its first
# libxenvchan_client_init fails. The client gets hv-xcstub.so preloaded (the handle opens,
# the question fails with EPERM: "keep waiting"), and starts only once the server's
# ring-ref and event-channel exist, so that its first attempt succeeds. The server side
# never touches libxenctrl.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../helpers.sh"
source "$here/lib.sh"
requires python3 bc
VCHAN=$(xen_tool vchan-socket-proxy) || exit 77
XS=$(xen_tool xenstore-exists) || exit 77
MIB=${VCHAN_MIB:-6}
node=/local/domain/1/data/vchan-test

# One end: python3 -c "$PEER" SIZE SEED EXPECT FIFO server|client CMD...: run CMD with
# stdin/stdout as pipes, send SIZE seeded bytes while reading EXPECT bytes, print
# "sent SHA received SHA N". Then the ends close in order through FIFO: the server end says
# it has everything, the client closes its stdin (its proxy ends the vchan; a proxy whose
# stdin ends while it still holds input waits for one more event that may never come), and
# the server's proxy ends when it sees the client gone.
PEER='
import hashlib, random, subprocess, sys, threading
size, seed, expect = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
fifo, role = sys.argv[4], sys.argv[5]
data = random.Random(seed).randbytes(size)
p = subprocess.Popen(sys.argv[6:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def send():
    for i in range(0, size, 65536):
        p.stdin.write(data[i:i + 65536])
    p.stdin.flush()
t = threading.Thread(target=send)
t.start()
got, n = hashlib.sha256(), 0
while n < expect:
    chunk = p.stdout.read1(1 << 16)
    if not chunk:
        break
    got.update(chunk)
    n += len(chunk)
t.join()
print("sent", hashlib.sha256(data).hexdigest(), "received", got.hexdigest(), n, flush=True)
if n == expect and role == "server":
    open(fifo, "w").close()
    p.stdout.read()
elif n == expect:
    open(fifo).read()
p.stdin.close()
sys.exit(p.wait())
'
# vchan-socket-proxy is not built with ASan: it needs the runtime preloaded when the
# drop-in libraries are. Its own leaks are not ours to report, and ASan's allocator must
# hand out zeroed memory to it: libxenvchan_server_init/client_init leave ctrl->blocking
# uninitialised, and with ASan's 0xbe fill both proxies write blocking and deadlock.
asan=detect_leaks=0:malloc_fill_byte=0
proxy=(env LD_PRELOAD="$SIM_PRELOAD" ASAN_OPTIONS=$asan "$VCHAN")
stub=$BUILD/tests/sim/hv-xcstub.so
[ -f "$stub" ] || fail "$stub is not built: run make run-sim (or make $stub)"
client=(env LD_PRELOAD="${SIM_PRELOAD:+$SIM_PRELOAD }$stub" ASAN_OPTIONS=$asan "$VCHAN")
exists() { sim_run Domain-0 "$XS" "$node/event-channel"; }

sim_start
g1=$(xensim create guest1) || fail "xensim create guest1 failed"
[ "$g1" = 1 ] || fail "guest1 has domid $g1, expected 1"

echo "== $MIB MiB each way between guest1 (server) and dom0 (client)"
a=$((MIB * 1048576)) b=$((MIB * 1048576 - 12345))
srv_out=$XENSIM_DIR/server.out cli_out=$XENSIM_DIR/client.out
mkfifo "$XENSIM_DIR/done" || fail "mkfifo failed"
sim_run guest1 python3 -c "$PEER" $a 1 $b "$XENSIM_DIR/done" server \
	"${proxy[@]}" -m server 0 "$node" - \
	>"$srv_out" 2>&1 &
srv=$!
cleanup_add "kill $srv 2>/dev/null"
wait_for 20 exists || { cat "$srv_out"; fail "the vchan server did not publish $node"; }
start=$(date +%s.%N)
timeout 60 "$BUILD/xensim" run Domain-0 -- python3 -c "$PEER" $b 2 $a "$XENSIM_DIR/done" \
	client "${client[@]}" 1 "$node" - >"$cli_out" 2>&1 ||
	{ cat "$cli_out" "$srv_out"; fail "the vchan client failed"; }
wait "$srv" || { cat "$srv_out"; fail "the vchan server failed"; }
secs=$(echo "$(date +%s.%N) - $start" | bc)
read -r _ srv_sent _ srv_got srv_n < <(grep '^sent' "$srv_out")
read -r _ cli_sent _ cli_got cli_n < <(grep '^sent' "$cli_out")
[ "${srv_n:-}" = "$b" ] && [ "${cli_n:-}" = "$a" ] ||
	{ cat "$srv_out" "$cli_out"
	  fail "short transfer: server got ${srv_n:-0} of $b, client ${cli_n:-0} of $a"; }
[ "$srv_sent" = "$cli_got" ] || fail "guest1 -> dom0: checksums differ"
[ "$cli_sent" = "$srv_got" ] || fail "dom0 -> guest1: checksums differ"
no_sanitizer_reports "$srv_out" "the vchan server"
no_sanitizer_reports "$cli_out" "the vchan client"
echo "equal checksums both ways, $(echo "scale=1; 2 * $MIB / $secs" | bc) MiB/s in all"
xensim counters

echo "== a killed client: its server sees it through the unmap notification"
# The proxies read stdin: a fifo with a writer kept open here never ends.
fifo=$XENSIM_DIR/stdin
mkfifo "$fifo" || fail "mkfifo failed"
exec 7<>"$fifo"
maps() { xensim counters Domain-0 | awk 'NR == 2 { print $4 }'; }
maps0=$(maps)
# exec all the way down: $! is the proxy itself (xensim run and env exec their command).
(exec "$BUILD/xensim" run guest1 -- "${proxy[@]}" -m server 0 "$node" - <"$fifo" >/dev/null) &
srv=$!
cleanup_add "kill $srv 2>/dev/null"
wait_for 20 exists || fail "the second vchan server did not publish $node"
(exec "$BUILD/xensim" run Domain-0 -- "${client[@]}" 1 "$node" - <"$fifo" >/dev/null) &
cli=$!
cleanup_add "kill $cli 2>/dev/null"
# The client maps the ring with an unmap notification (cli_live, its event port)...
mapped() { [ "$(maps)" -gt "$maps0" ]; }
wait_for 20 mapped || fail "the client never mapped the ring"
kill -0 "$srv" 2>/dev/null || fail "the server ended before the client died"
{ kill -KILL "$cli" && wait "$cli"; } 2>/dev/null
# ...so its death clears cli_live and signals the server, which then ends (server mode '-').
timeout 20 tail --pid="$srv" -f /dev/null || fail "the server did not notice the dead client"
echo "the server ended when the client died"
