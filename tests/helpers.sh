# Shared by the shell tests: sourced, never run.
# requires CMD... : skip (exit 77) with the reason when a command is missing.
# cleanup_add CMD : run CMD at exit, last added first.
# fail MSG        : print and exit 1.   expect_fail CMD... : CMD must exit non-zero.
set -u
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BLKBACK_BUILD:-$REPO/build}
_cleanups=()

requires() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || { echo "skipped: $c is not installed"; exit 77; }
	done
}

cleanup_add() { _cleanups=("$1" "${_cleanups[@]}"); }
# Every cleanup runs, even after one fails; a failure in one still fails the test.
_run_cleanups() {
	local rc=$? c
	_cleaning=1
	for c in "${_cleanups[@]}"; do eval "$c" || true; done
	[ -z "${_cleanup_failed:-}" ] || rc=1
	exit "$rc"
}
trap _run_cleanups EXIT

# Print and fail the test: exit 1, or inside a cleanup, return 1 and fail at the end.
fail() {
	echo "FAIL: $*"
	if [ -n "${_cleaning:-}" ]; then
		_cleanup_failed=1
		return 1
	fi
	exit 1
}

# Run a command that must fail; its output lands in $OUT.
expect_fail() {
	if OUT=$("$@" 2>&1); then fail "'$*' succeeded: $OUT"; fi
}

# $OUT must contain the text $1.
expect_out() { [[ $OUT == *"$1"* ]] || fail "expected '$1' in: $OUT"; }

# Wait up to $1 seconds for command $2... to succeed, re-checking every 0.1 s.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# Fail if log file $1 holds a sanitizer report ($2 names it in the message).
no_sanitizer_reports() {
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" 2>/dev/null; then
		grep -E -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" | head -40
		fail "sanitizer report in $2 ($1)"
	fi
}

# make install of this build ($BUILD) into DESTDIR $1 with PREFIX=/usr, as the Debian package
# installs it (the caller's make flags left out: nothing is rebuilt); fail if the unit is
# missing from it. Sets UNIT to the installed unit file.
install_into() {
	local b out
	b=$(cd "$BUILD" && pwd) || fail "no build directory $BUILD"
	out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$REPO" --no-print-directory \
		B="$b" install DESTDIR="$1" PREFIX=/usr 2>&1) || fail "make install failed: $out"
	UNIT=$1/lib/systemd/system/blkbackd.service
	[ -f "$UNIT" ] || fail "make install put no unit in /lib/systemd/system"
}
