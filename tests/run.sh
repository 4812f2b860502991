#!/usr/bin/env bash
# Run test programs, each under a timeout: exit 0 pass, 77 skip, anything else fail.
# usage: tests/run.sh SUITE TEST... ; ends with "N passed, N failed, N skipped".
# A skip is counted apart, never as a pass; a suite that passed no test at all (none given,
# or every one skipped) fails: it checked nothing.
set -u
suite=$1; shift
timeout_s=${TEST_TIMEOUT:-120}
pass=0 fail=0 skip=0
logdir=build/test-logs/$suite
mkdir -p "$logdir"

for t in "$@"; do
	name=$(basename "$t")
	log=$logdir/$name.log
	if [[ $t == *.sh ]]; then cmd=(bash "$t"); else cmd=("$t"); fi
	timeout --kill-after=5 "$timeout_s" "${cmd[@]}" >"$log" 2>&1
	rc=$?
	case $rc in
	0) pass=$((pass + 1)); echo "PASS $suite/$name"
	   # The result lines a test prints for the record (PASS <check>, ratio <name> <value>).
	   grep -E '^(PASS|ratio) ' "$log" | sed 's/^/    /' ;;
	77) skip=$((skip + 1)); echo "SKIP $suite/$name: $(tail -n 1 "$log")" ;;
	124|137) fail=$((fail + 1)); echo "FAIL $suite/$name: timed out after ${timeout_s}s"
	   sed 's/^/    /' "$log" | tail -n 30 ;;
	*) fail=$((fail + 1)); echo "FAIL $suite/$name (exit $rc)"
	   sed 's/^/    /' "$log" | tail -n 30 ;;
	esac
done
echo "$suite: $pass passed, $fail failed, $skip skipped"
if [ "$pass" -eq 0 ]; then
	echo "FAIL $suite: no test passed ($# given, $skip skipped): the suite checked nothing"
	exit 1
fi
[ "$fail" -eq 0 ]
