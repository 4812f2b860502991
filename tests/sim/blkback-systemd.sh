#!/usr/bin/env bash
# The systemd unit's own stop and start, as systemd runs them, under a guest doing verified
# I/O on a file: disk: the disk stays Connected and nothing is lost. The command lines come
# from the unit that make install puts (PREFIX=/usr), expanded as systemd expands them
# ($BLKBACKD_OPTS from /etc/default/blkbackd), with the build's binaries in place of
# /usr/sbin's, in the simulated dom0; no systemd is needed.
#  - systemctl restart: ExecStop (blkbackctl handover) must succeed and return only once
#    the old process has gone, so that systemd finds nothing to SIGTERM in the unit; then
#    ExecStart (blkbackd --daemon) returns once the new daemon serves, and it takes the
#    disk over.
#  - Restart=on-failure after a crash (SIGKILL): ExecStop finds no daemon and fails, which
#    its '-' prefix tells systemd to let pass; ExecStart takes the disk over.
#  - systemctl stop, later start: the same as a restart, with the guest waiting between.
# One of the guest's writes is held (fault=...:stall) through all of it, so a request is in
# flight at every stop: each new daemon must run it again (it is in flight there). Once
# released, the guest's verify run must finish with every block as written, and a read-only
# verify after a last restart must find them all again.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3
XSR=$(xen_tool xenstore-read) || exit 77

B=$(cd "$BUILD" && pwd) || fail "no build directory $BUILD"
inst=$(mktemp -d)
cleanup_add "rm -rf $inst"
OUT=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$REPO" --no-print-directory B="$B" \
	install DESTDIR="$inst" PREFIX=/usr 2>&1) || fail "make install failed: $OUT"
unit=$inst/lib/systemd/system/blkbackd.service
[ -f "$unit" ] || fail "make install put no unit in /lib/systemd/system"

# key NAME: the unit's one value of NAME.
key() {
	local v
	v=$(sed -n "s/^$1=//p" "$unit")
	[ "$(wc -l <<<"$v")" -eq 1 ] && [ -n "$v" ] || fail "the unit has not one $1=: '$v'"
	echo "$v"
}

# unit_cmd NAME: the command line of ExecStart or ExecStop as systemd would run it, in CMD,
# and its prefix characters (-, @, +, !, :) in CMD_PREFIX. An unquoted $VAR or ${VAR} alone
# as a word is split at white space, and is no word at all when unset or empty
# (systemd.service(5)); anything fancier is refused rather than guessed.
unit_cmd() {
	local line w v words=() more
	line=$(key "$1")
	CMD_PREFIX=${line%%[!-@+!:]*}
	line=${line#"$CMD_PREFIX"}
	read -ra words <<<"$line"
	CMD=()
	for w in "${words[@]}"; do
		if [[ $w =~ ^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$ ]]; then
			v=${!BASH_REMATCH[1]:-}
			read -ra more <<<"$v"
			CMD+=("${more[@]}")
		elif [[ $w == *[\$\"\'\\%]* ]]; then
			fail "$1: cannot expand '$w' as systemd would"
		else
			CMD+=("$w")
		fi
	done
	# The installed binary, run from the build (with the suite's sanitizers).
	[[ ${CMD[0]} == /usr/sbin/* ]] || fail "$1 runs ${CMD[0]}, not a program of /usr/sbin"
	[ -x "$inst${CMD[0]}" ] || fail "$1 runs ${CMD[0]}, which make install did not install"
	CMD[0]=$B/$(basename "${CMD[0]}")
}

sim_start
xensim create guest1 >/dev/null || fail "cannot create guest1"
gid=$(xensim list | awk '$2 == "guest1" {print $1}')
be=/local/domain/0/backend/vbd3/$gid/51728 fe=/local/domain/$gid/device/vbd/51728

# What systemd sets up: the RuntimeDirectory (here in the simulator's directory; the test
# checks that PIDFile lies in it), and the environment file's options.
rt=$(key RuntimeDirectory) pidfile=$(key PIDFile)
[ "$(dirname "$pidfile")" = "/run/$rt" ] || fail "PIDFile=$pidfile is not in /run/$rt"
export BLKBACKD_RUNDIR=$XENSIM_DIR/$rt
mkdir -m 0755 "$BLKBACKD_RUNDIR"
PIDFILE=$BLKBACKD_RUNDIR/$(basename "$pidfile")
LOG=$BLKBACKD_RUNDIR/vbd3.log	# where --daemon logs without a syslog daemon
export BLKBACKD_OPTS="--max-queues 2"
# The held write is left behind by an exiting daemon after 2 s, not 10 (blkbackd(8)).
export BLKBACKD_SHUTDOWN_WAIT=2
# A detached daemon's stderr is /dev/null: its sanitizer reports go to files.
mkdir "$XENSIM_DIR/san"
export ASAN_OPTIONS=log_path=$XENSIM_DIR/san/r UBSAN_OPTIONS=log_path=$XENSIM_DIR/san/r
MAIN=

# Is process $1 gone (or a zombie, which systemd reaps and does not signal)?
gone() {
	local s
	s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 0
	[ -z "$s" ] || [ "$s" = Z ] || [ "$s" = X ]
}

# ExecStart, as for Type=forking: returns once the daemon serves; its pid from PIDFile.
unit_start() {
	unit_cmd ExecStart
	OUT=$("$B/xensim" run Domain-0 -- "${CMD[@]}" 2>&1) ||
		fail "ExecStart (${CMD[*]}) failed: $OUT"
	read -r MAIN _ <"$PIDFILE" || fail "no PIDFile $PIDFILE after ExecStart"
	! gone "$MAIN" || fail "the daemon in PIDFile ($MAIN) is not running: $(tail -n 5 "$LOG")"
	echo "ExecStart: blkbackd $MAIN serves"
}

# ExecStop; $1 says whether a daemon runs. With one it must succeed and leave nothing
# running; without one it may fail only if the unit's '-' lets systemd go on.
unit_stop() {
	local rc=0
	unit_cmd ExecStop
	OUT=$("$B/xensim" run Domain-0 -- "${CMD[@]}" 2>&1) || rc=$?
	if [ "$1" = running ]; then
		[ "$rc" -eq 0 ] || fail "ExecStop (${CMD[*]}) exited $rc: $OUT"
		# systemd now sends SIGTERM to what is left in the unit: nothing may be.
		gone "$MAIN" || fail "ExecStop returned while blkbackd $MAIN still runs: systemd would SIGTERM it, closing every disk"
		echo "ExecStop: $OUT"
	elif [ "$rc" -ne 0 ]; then
		[[ $CMD_PREFIX == *-* ]] ||
			fail "ExecStop fails after a crash ($OUT) and the unit does not let it pass"
		echo "ExecStop after the crash failed, as the unit allows: $OUT"
	fi
	MAIN=
}

# The last daemon, if any, closes every disk on SIGTERM and exits 0.
stop_last() {
	[ -n "$MAIN" ] || return 0
	kill -TERM "$MAIN" 2>/dev/null
	wait_for 20 gone "$MAIN" || fail "blkbackd $MAIN did not exit on SIGTERM"
	MAIN=
}
cleanup_add stop_last
# Sanitizer reports of every daemon and blkbackctl of the test.
san_check() {
	local f
	for f in "$XENSIM_DIR"/san/r.*; do
		[ -e "$f" ] && { cat "$f"; fail "sanitizer report: $f"; }
	done
	return 0
}

xsr() { xensim run guest1 -- "$XSR" "$1" 2>/dev/null; }
# Backend and frontend both Connected (4).
connected() { [ "$(xsr "$be/state")" = 4 ] && [ "$(xsr "$fe/state")" = 4 ]; }
held() { [ "$(bk_stat guest1 xvdb inflight 2>/dev/null)" = 1 ]; }
# The guest's verify run still waits for its held write: it has not failed or ended.
verifying() {
	kill -0 "$FE_PID" 2>/dev/null ||
		fail "guest1's verify ended while its write was held: $(tail -n 5 "$XENSIM_DIR/g1.log")"
}

unit_start
truncate -s 64M "$XENSIM_DIR/g1.img"
bk_ctl attach guest1 "file:$XENSIM_DIR/g1.img,fault=2048+8:stall" --vdev xvdb --nowait >/dev/null ||
	fail "cannot attach guest1's disk"
fe_bg "$XENSIM_DIR/g1.log" guest1 verify xvdb --seed 5 --iodepth 16 --queues 2 --passes 2
wait_for 30 held || fail "guest1's write to the stalled range never reached blkbackd"
wait_for 10 connected || fail "guest1's disk is not Connected"
[ "$(xsr "$be/multi-queue-max-queues")" = 2 ] ||
	fail "ExecStart did not pass \$BLKBACKD_OPTS (--max-queues 2): $(xsr "$be/multi-queue-max-queues")"

step() {
	wait_for 30 connected || fail "$1: guest1's disk is not Connected with no daemon"
	verifying
	unit_start
	wait_for 30 held || fail "$1: the new daemon does not run the held write again: $(tail -n 10 "$LOG")"
	connected || fail "$1: guest1's disk is not Connected after the take-over"
	echo "PASS $1: the disk stayed Connected, the held write runs again"
}

# systemctl restart.
unit_stop running
step restart
# A crash: Restart=on-failure runs ExecStop, then ExecStart.
kill -KILL "$MAIN"
wait_for 20 gone "$MAIN" || fail "blkbackd $MAIN survived SIGKILL"
echo "killed blkbackd $MAIN"
unit_stop crashed
step crash-restart
# systemctl stop; the guest waits; systemctl start.
unit_stop running
verifying
step stop-start

bk_ctl unstall guest1 xvdb >/dev/null || fail "cannot release the held write"
wait "$FE_PID" || { tail -n 20 "$XENSIM_DIR/g1.log"; fail "guest1's verify failed"; }
echo "PASS verify: every block as written across three stops"

# What the guest wrote is still there, read only by a new connection (the verify run's
# ended: the disk closed), after one more restart.
unit_stop running
unit_start
# (The new daemon opened the disk with its fault= again: let the range be served.)
bk_ctl unstall guest1 xvdb >/dev/null || fail "cannot unstall the disk after the last restart"
fe guest1 verify xvdb --seed 6 --mode read --iodepth 16 >"$XENSIM_DIR/g1-read.log" 2>&1 ||
	{ tail -n 20 "$XENSIM_DIR/g1-read.log"; fail "guest1's data is not all there after a last restart"; }
echo "PASS read back after a last restart"
bk_ctl detach guest1 xvdb >/dev/null || fail "cannot detach guest1's disk"
unit_stop running
left=$(ls "$BLKBACKD_RUNDIR/vbd3.state/" 2>/dev/null | wc -l)
[ "$left" -eq 0 ] || fail "ring journals left after detach: $(ls "$BLKBACKD_RUNDIR/vbd3.state/")"
# Without a syslog daemon (no /dev/log) the daemons' log is the file: one take-over per stop
# with the guest connected.
if [ -S /dev/log ]; then
	echo "the daemons logged to syslog here: their take-over lines are not counted"
else
	n=$(grep -c "d$gid xvdb: took over from an earlier blkbackd" "$LOG")
	[ "$n" -eq 3 ] || fail "$n take-overs logged in $LOG, not 3"
fi
san_check
