#!/usr/bin/env bash
# Bad command lines and a missing daemon give a clear error and the right exit status.
. "$(dirname "$0")/../helpers.sh"
D=$BUILD/blkbackd C=$BUILD/blkbackctl
rundir=$(mktemp -d)
cleanup_add "rm -rf $rundir"
export BLKBACKD_RUNDIR=$rundir

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
expect_fail "$C" detach guest1 nonsense;     expect_out "bad disk name 'nonsense'"
echo "ok"
