# Sourced by the simulator tests of xl disks (tests/sim/xl-*.sh), after tests/helpers.sh,
# tests/sim/lib.sh and lib-blkback.sh, once blkbackd runs and the guest exists.
#   xl_init GUEST KIND   set DOM, SCRIPT (tools/hotplug/blkbackd), BE, FE and LX (the
#                        backend, frontend and /libxl paths of GUEST's xvdb) for kind KIND
#                        (vbd3 or vbd); the hotplug script runs this build's blkbackctl,
#                        whose output is checked for sanitizer reports at exit
#   libxl ARGS           tests/sim/xl-libxl.py in dom0: libxl's add and removal
#   xl_node PATH         print a node's value (fails if absent)
#   xl_nothing_left WHAT fail unless the device's nodes are all gone and blkbackd has no disk
#   xl_held_image SIZE   IMG: a file of SIZE on a hangfs mount (lib-hangfs.sh sourced), whose
#                        next open hangs
#   xl_attach_held LOG   libxl attach of file:$IMG as xvdb in the background (its pid in ATT,
#                        its output in LOG); returns once blkbackd's open is held and libxl
#                        runs the script's add, the backend being in InitWait

# Set the paths of GUEST $1's xvdb, served as kind $2.
xl_init() {
	DOM=$(xensim list | awk -v g="$1" '$2 == g { print $1 }')
	[ -n "$DOM" ] || fail "there is no domain $1"
	XL_KIND=$2
	SCRIPT=$REPO/tools/hotplug/blkbackd
	BE=/local/domain/0/backend/$2/$DOM/51728
	FE=/local/domain/$DOM/device/vbd/51728
	LX=/libxl/$DOM/device/vbd/51728
	export BLKBACKCTL=$BUILD/blkbackctl
	cleanup_add xl_check_output
}

# libxl's operations; what they and the script print to stderr is kept for the check at exit.
libxl() {
	local err rc=0
	err=$(mktemp "$XENSIM_DIR/xl-stderr.XXXXXX") || fail "mktemp failed"
	xensim run Domain-0 -- python3 "$REPO/tests/sim/xl-libxl.py" "$@" 2>"$err" || rc=$?
	cat "$err" >&2
	return "$rc"
}

# Fail if blkbackctl, run by the hotplug script, reported a sanitizer error.
xl_check_output() {
	[ -n "${XENSIM_DIR:-}" ] && [ -d "$XENSIM_DIR" ] || return 0
	cat "$XENSIM_DIR"/xl-stderr.* >"$XENSIM_DIR/xl-stderr.all" 2>/dev/null
	no_sanitizer_reports "$XENSIM_DIR/xl-stderr.all" "blkbackctl hotplug (the hotplug script)"
}

# Print the value of node $1.
xl_node() { xensim run Domain-0 -- python3 "$REPO/tests/sim/xs-raw.py" read "$1" 2>/dev/null; }

# Nothing of the device is left: no node, and no disk in blkbackd ($1 says when).
xl_nothing_left() {
	local l
	l=$(libxl present "$BE" "$BE/state" "$FE" "$FE/state" "$LX") || fail "cannot read xenstore"
	[ -z "$l" ] || fail "$1: nodes left behind: $l"
	bk_ctl --kind "$XL_KIND" stats | grep -q '^disk ' &&
		fail "$1: blkbackd still has a disk: $(bk_ctl --kind "$XL_KIND" stats)"
	return 0
}

# A file of size $1 on a fresh hangfs mount in IMG; its next open will hang.
xl_held_image() {
	mkdir -p "$XENSIM_DIR/hangfs"
	hangfs_start "$XENSIM_DIR/hangfs"
	IMG=$HANGFS_MNT/vm1.img
	truncate -s "$1" "$IMG" || fail "cannot create $IMG on hangfs"
	hangfs_hang open
}

# libxl's attach of file:$IMG in the background, output to $1; wait until blkbackd's open of
# it is held and libxl, having seen InitWait, runs the script's add.
xl_attach_held() {
	libxl attach "$DOM" 51728 "file:$IMG" --script "$SCRIPT" >"$1" 2>&1 &
	ATT=$!
	cleanup_add "kill $ATT 2>/dev/null"
	hangfs_wait open held 30 || fail "blkbackd never opened $IMG"
	wait_for 20 grep -q "in InitWait: running $SCRIPT add" "$1" ||
		fail "no InitWait while the open is held: $(cat "$1")"
}
