#!/usr/bin/env bash
# The installed systemd unit passes systemd-analyze verify, run on a DESTDIR install as the
# root (so its ExecStart and ExecStop binaries and its man pages are the installed ones), with
# no error and no warning. And its stop is the handover, never a signal that closes the disks:
# ExecStop is blkbackctl handover (failure allowed: after a crash there is no daemon),
# nothing changes KillMode or KillSignal, the run directory is kept across a stop, and the
# PIDFile is where blkbackd and blkbackctl look as root.
. "$(dirname "$0")/../helpers.sh"
requires systemd-analyze man
B=$(cd "$BUILD" && pwd) || fail "no build directory $BUILD"
d=$(mktemp -d)
cleanup_add "rm -rf $d"
OUT=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$REPO" --no-print-directory B="$B" \
	install DESTDIR="$d" PREFIX=/usr 2>&1) || fail "make install failed: $OUT"
unit=$d/lib/systemd/system/blkbackd.service
[ -f "$unit" ] || fail "make install put no unit in /lib/systemd/system"

# The units ours names (sysinit.target, multi-user.target...) come from this machine's
# systemd; ours and everything it runs from the install.
cp -rn /lib/systemd/system/. "$d/lib/systemd/system/"
OUT=$(MANPATH=$d/usr/share/man SYSTEMD_LOG_LEVEL=notice \
	systemd-analyze verify --root="$d" /lib/systemd/system/blkbackd.service 2>&1) ||
	fail "systemd-analyze verify failed: $OUT"
[ -z "$OUT" ] || fail "systemd-analyze verify warned: $OUT"
echo "PASS systemd-analyze verify"

# key NAME: the unit's value(s) of NAME, one a line.
key() { sed -n "s/^$1=//p" "$unit"; }
[ "$(key Type)" = forking ] || fail "Type=$(key Type), not forking"
[[ $(key ExecStart) == "/usr/sbin/blkbackd --daemon"* ]] ||
	fail "ExecStart=$(key ExecStart): blkbackd --daemon returns once it serves"
[ "$(key ExecStop)" = "-/usr/sbin/blkbackctl handover --timeout 45" ] ||
	fail "ExecStop=$(key ExecStop), not the handover"
[ "$(key ExecStop | wc -l)" -eq 1 ] || fail "more than one ExecStop"
for k in KillMode KillSignal ExecStopPost ExecReload RestartKillSignal; do
	[ -z "$(key $k)" ] || fail "$k=$(key $k): a stop must only hand over"
done
[ "$(key Restart)" = on-failure ] || fail "Restart=$(key Restart)"
[ "$(key RuntimeDirectoryPreserve)" = yes ] ||
	fail "RuntimeDirectoryPreserve=$(key RuntimeDirectoryPreserve): a stop would delete the journals"
# The handover must end inside the stop timeout, or systemd kills a daemon still leaving.
stop=$(key TimeoutStopSec)
[ -n "$stop" ] && [ "$stop" -gt 45 ] || fail "TimeoutStopSec=$stop is not above the handover's 45 s"

# Where the daemon keeps its pidfile as root, as blkbackctl handover reports it for a kind
# nobody serves.
if [ "$(id -u)" -eq 0 ]; then
	OUT=$(env -u BLKBACKD_RUNDIR "$B/blkbackctl" --kind vbdunit handover 2>&1) &&
		fail "blkbackctl found a daemon for kind vbdunit: $OUT"
	[[ $OUT =~ no\ live\ (/[^ ]*)/vbdunit\.pid ]] || fail "no pidfile path in: $OUT"
	rundir=${BASH_REMATCH[1]}
	[ "$(key PIDFile)" = "$rundir/vbd3.pid" ] ||
		fail "PIDFile=$(key PIDFile), but blkbackd's pidfile for vbd3 is $rundir/vbd3.pid"
	[ "/run/$(key RuntimeDirectory)" = "$rundir" ] ||
		fail "RuntimeDirectory=$(key RuntimeDirectory), but blkbackd uses $rundir"
	echo "PASS the unit's PIDFile and RuntimeDirectory are blkbackd's: $rundir"
else
	echo "not root: the run directory of root's blkbackd is not checked"
fi
