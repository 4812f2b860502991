#!/usr/bin/env bash
# Bad command lines and a missing daemon give a clear error and the right exit status: every
# tool exits 0 done, 1 failed, 2 bad command line. Numbers are parsed strictly, one way in
# every tool; every tool prints the same --version; the run directory's fallbacks.
. "$(dirname "$0")/../helpers.sh"
D=$BUILD/blkbackd C=$BUILD/blkbackctl F=$BUILD/blkfront S=$BUILD/xensim
rundir=$(mktemp -d)
cleanup_add "rm -rf $rundir"
export BLKBACKD_RUNDIR=$rundir

# expect_rc STATUS CMD...: CMD must exit with STATUS; its output lands in $OUT.
expect_rc() {
	local want=$1 rc=0
	shift
	OUT=$("$@" 2>&1) || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, not $want: $OUT"
}

# --version: the same version from every tool, with nothing else to do.
for t in "$D" "$C" "$F" "$S"; do
	expect_rc 0 "$t" --version
	[[ $OUT =~ ^$(basename "$t")\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "$t --version: $OUT"
	v=${OUT#* }
	[ "$v" = "$(OUT=; "$D" --version | cut -d' ' -f2)" ] || fail "$t has version $v"
done

# One strict number parser: out of range is "too large" with the limit, never wrapped.
expect_rc 2 "$D" --max-queues 4294967297; expect_out "bad --max-queues '4294967297': too large; at most 32"
expect_rc 2 "$D" --max-queues 33;     expect_out "too large; at most 32"
expect_rc 2 "$D" --max-queues 0;      expect_out "give a whole number from 1 to 32"
expect_rc 2 "$D" --max-queues -1;     expect_out "give a whole number from 1 to 32"
expect_rc 2 "$D" --max-queues " 4";   expect_out "give a whole number"
expect_rc 2 "$D" --poll-us 1001;     expect_out "bad --poll-us '1001': too large; at most 1000"
expect_rc 2 "$D" --poll-us x;        expect_out "give a whole number from 0 to 1000"
expect_rc 2 "$C" attach guest1 mem:size=9000000T; expect_out "bad size '9000000T': too large; at most 8388608T"
expect_rc 2 "$C" attach guest1 mem:size=64MB; expect_out "bad size '64MB'"
expect_rc 2 "$C" resize guest1 xvdb 9000000T; expect_out "bad size '9000000T': too large; at most 8388608T"
expect_rc 2 "$C" resize guest1 xvdb 1.5G; expect_out "bad size '1.5G'"
expect_rc 2 "$C" attach guest1 mem:size=1M --timeout 4294967297; expect_out "bad --timeout"
expect_rc 2 "$F" info xvdb --slots 4294967297; expect_out "bad --slots '4294967297': too large; at most 512"
expect_rc 2 "$F" read xvdb 0 64MB;    expect_out "bad"
expect_rc 2 "$F" read xvdb 0 99999999999999999999; expect_out "too large"

# Exit statuses: 2 for a bad command line, 1 for a failure.
expect_rc 2 "$C" stats guest1;        expect_out "give both DOMAIN and VDEV"
expect_rc 2 "$C" stats guest1 sda1;   expect_out "bad disk name 'sda1'"
expect_rc 2 "$C" list extra;          expect_out "takes no arguments"
expect_rc 2 "$C" handover extra;      expect_out "usage: blkbackctl handover [--timeout SECONDS]"
expect_rc 2 "$C" handover --timeout 0; expect_out "bad --timeout '0'"
expect_rc 2 "$C" attach guest1 foo:x; expect_out "unknown storage engine"
expect_rc 1 "$C" attach guest1 mem:size=64M; expect_out "no blkbackd is running"
expect_rc 2 "$F" frobnicate;          expect_out "unknown command"

# A spec whose path is longer than PATH_MAX is refused, saying so.
long=/$(head -c 4200 /dev/zero | tr '\0' a)
expect_rc 2 "$C" attach guest1 "file:$long"; expect_out "longer than the 4095 a path may have (PATH_MAX)"

# Without BLKBACKD_RUNDIR and XDG_RUNTIME_DIR an ordinary user's run directory is
# /tmp/blkbackd-UID, as xensim's is /tmp/xensim-UID; a directory that cannot be written
# names BLKBACKD_RUNDIR.
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null && user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
	user=(env)
fi
if [ -n "${user[*]:-}" ]; then
	uid=$("${user[@]}" id -u)
	expect_rc 1 "${user[@]}" env -u BLKBACKD_RUNDIR -u XDG_RUNTIME_DIR "$C" attach g mem:size=1M
	expect_out "no live /tmp/blkbackd-$uid/vbd3.pid"
	mkdir -m 555 "$rundir/ro" && chmod 755 "$rundir"
	expect_rc 1 "${user[@]}" env BLKBACKD_RUNDIR="$rundir/ro/run" "$D"
	expect_out "Permission denied; set BLKBACKD_RUNDIR to a directory of yours"
else
	echo "note: root without setpriv: the ordinary user's run directory is not checked"
fi

# The run directory must be one to trust: not a symlink (one in /tmp can be swapped for
# another user's directory between two uses), not writable by others.
ln -s "$rundir" "$rundir.link"
cleanup_add "rm -f $rundir.link"
expect_rc 1 env BLKBACKD_RUNDIR="$rundir.link" "$D"; expect_out "Not a directory; set BLKBACKD_RUNDIR"
mkdir "$rundir/open" && chmod 777 "$rundir/open"
expect_rc 1 env BLKBACKD_RUNDIR="$rundir/open" "$D"
expect_out "Operation not permitted; set BLKBACKD_RUNDIR"

# The domain's grant limit may not pass the daemon's, given or by default.
expect_rc 2 "$D" --grant-pages-domain 300000; expect_out "is more than --grant-pages 262144 (its default)"
expect_rc 2 "$D" --grant-pages 2048 --grant-pages-domain 4096; expect_out "is more than --grant-pages 2048"

expect_fail "$D" --debug bogus;       expect_out "bad --debug 'bogus'"
expect_fail "$D" --kind a/b;          expect_out "bad --kind"
expect_fail "$D" extra-arg;           expect_out "unexpected argument"
"$D" --help | grep -q -- "--kind" || fail "blkbackd --help does not list --kind"

expect_fail "$C";                     expect_out "usage"
expect_fail "$C" frobnicate;          expect_out "unknown command 'frobnicate'"
expect_fail "$C" attach guest1;       expect_out "give DOMAIN and SPEC"
expect_fail "$C" attach guest1 foo:x; expect_out "unknown storage engine"
expect_out "mem:size=SIZE"
expect_fail "$C" attach guest1 mem:size=12Q; expect_out "bad size '12Q'"
expect_fail "$C" attach guest1 mem:size=1M --vdev sda1; expect_out "bad --vdev 'sda1'"
expect_fail "$C" attach guest1 mem:size=1M --timeout 0; expect_out "bad --timeout"
# A well-formed attach with no daemon running says so and how to start one.
expect_fail "$C" attach guest1 mem:size=64M; expect_out "no blkbackd is running for kind vbd3"
expect_out "blkbackd --daemon"
# A stale pidfile (no process holds its lock) does not count as a running daemon.
echo 999999 > "$rundir/vbd3.pid"
expect_fail "$C" attach guest1 mem:size=64M; expect_out "no blkbackd is running"
expect_rc 2 "$C" detach guest1 nonsense;     expect_out "bad disk name 'nonsense'"
echo "ok"
