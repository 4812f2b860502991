# Sourced by every tests/sim/*.sh, after tests/helpers.sh: the simulator for one test.
#   sim_start            start xensim in a fresh $XENSIM_DIR (exported); stopped at exit, and
#                        the test fails if its log holds a sanitizer report
#   sim_env NAME         export the environment of a process in domain NAME into this shell
#   sim_run NAME CMD...  run CMD in domain NAME
#   xen_tool NAME        print the path of a third-party Xen binary (test-xenstore,
#                        xenstore-ls, vchan-socket-proxy...), fetching the Debian packages
#                        once; on failure says why and returns 77: T=$(xen_tool X) || exit 77
#   SIM_PRELOAD          libasan.so when the drop-in libraries are built with ASan: a
#                        non-ASan third-party program that loads them needs
#                        LD_PRELOAD=$SIM_PRELOAD (empty otherwise)
SIM_CACHE=${SIM_CACHE:-$REPO/.cache/sim}
SIM_PRELOAD=
if [ -n "${BLKBACK_SAN:-}" ]; then
	SIM_PRELOAD=$(${CC:-cc} -print-file-name=libasan.so)
fi

xensim() { "$BUILD/xensim" "$@"; }

# Start the simulator in a new temporary run directory.
sim_start() {
	[ -x "$BUILD/xensim" ] || fail "$BUILD/xensim is not built: run make sim"
	XENSIM_DIR=$(mktemp -d /tmp/xensim.XXXXXX) || fail "mktemp failed"
	export XENSIM_DIR
	SIM_LOG=$XENSIM_DIR/xensim.log
	cleanup_add sim_stop
	"$BUILD/xensim" start --dir "$XENSIM_DIR" --log "$SIM_LOG" ||
		{ tail -n 20 "$SIM_LOG" 2>/dev/null; fail "xensim start failed"; }
	SIM_RUNNING=1
}

# Stop the simulator and check its log; the run directory goes unless SIM_KEEP=1.
# Idempotent.
sim_stop() {
	[ -n "${SIM_RUNNING:-}" ] || return 0
	SIM_RUNNING=
	"$BUILD/xensim" stop --dir "$XENSIM_DIR" || echo "warning: xensim stop failed" >&2
	no_sanitizer_reports "$SIM_LOG" "the xensim daemon"
	[ -n "${SIM_KEEP:-}" ] || rm -rf "$XENSIM_DIR"
}

# Export the environment of domain $1 into the calling shell.
sim_env() {
	local e
	e=$("$BUILD/xensim" env "$1") || fail "xensim env $1 failed"
	eval "$e"
}

# Run $2... in domain $1.
sim_run() {
	local dom=$1
	shift
	"$BUILD/xensim" run "$dom" -- "$@"
}

# Print the path of third-party Xen binary $1; fetch the packages when missing.
xen_tool() {
	local d p tries
	for tries in 1 2; do
		for d in usr/bin usr/sbin usr/lib/xen-4.17/bin; do
			p=$SIM_CACHE/root/$d/$1
			[ -x "$p" ] && { echo "$p"; return 0; }
		done
		[ "$tries" = 1 ] || break
		SIM_CACHE=$SIM_CACHE "$REPO/tests/sim/fetch.sh" >&2 || {
			echo "skipped: cannot fetch the Xen packages for $1 (tests/sim/fetch.sh failed)" >&2
			return 77
		}
	done
	echo "skipped: $1 is not in the Xen packages unpacked in $SIM_CACHE/root" >&2
	return 77
}
