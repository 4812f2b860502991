#!/usr/bin/env bash
# Long paths are never cut: disks at a ~300-byte and a ~4000-byte path attach and serve (the
# spec's ,ro after the path holds), a missing file at a long path fails with the whole
# reason (cut, saying so, only where a xenstore node cannot hold it), and a path longer
# than PATH_MAX is refused with a message.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
requires python3

bk_sim guest1

# Print a path of exactly $1 bytes under $XENSIM_DIR ($2 names its kind), made of
# 200-byte directories (created) and a last name of up to 250 bytes.
long_file() {
	local d=$XENSIM_DIR/$2 rest
	while [ $((${#d} + 201 + 50)) -le "$1" ]; do d=$d/$(head -c 200 /dev/zero | tr '\0' d); done
	mkdir -p "$d"
	rest=$(($1 - ${#d} - 1))
	echo "$d/$(head -c "$rest" /dev/zero | tr '\0' f)"
}

for len in 300 4000; do
	img=$(long_file $len disk)
	[ ${#img} -eq $len ] || fail "long_file made ${#img} bytes, not $len"
	truncate -s 8M "$img"
	bk_ctl attach guest1 "file:$img,ro" --vdev xvdb --nowait >/dev/null ||
		fail "attach at a ${#img}-byte path failed"
	OUT=$(bk_ctl list)
	expect_out "$img,ro"
	expect_out " ro "
	fe guest1 read xvdb 0 4096 | cmp -s - <(head -c 4096 /dev/zero) ||
		fail "reading the disk at a ${#img}-byte path failed"
	# Read-only held: the whole spec reached the daemon, ,ro at its end too.
	if head -c 4096 /dev/urandom | fe guest1 write xvdb 0 >/dev/null 2>&1; then
		fail "a write to the read-only disk at a ${#img}-byte path succeeded"
	fi
	bk_ctl detach guest1 xvdb >/dev/null
	grep -qF "d1 xvdb: file:$img,ro, 8 MiB, read-only" "$BK_LOG" ||
		fail "the daemon's log lacks the whole spec of the ${#img}-byte path"
done

# A missing file at a 4000-byte path: the daemon's reason, with the path whole in its log and
# cut, saying so, in xenstore's error node (one xenstore message holds 4096 bytes).
rc=0
missing=$(long_file 4040 missing)
OUT=$(bk_ctl attach guest1 "file:$missing" --vdev xvdb 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "attach of a missing file exited $rc: $OUT"
expect_out "blkbackd could not serve xvdb"
expect_out "cut to fit xenstore; the log has all of it"
grep -qF "cannot open $missing: No such file or directory; check the path" "$BK_LOG" ||
	fail "the daemon's log lacks the whole reason"

# Longer than PATH_MAX: refused before anything is written.
long=$(long_file 4096 toolong)
rc=0
OUT=$(bk_ctl attach guest1 "file:$long" --vdev xvdb 2>&1) || rc=$?
[ "$rc" -eq 2 ] || fail "a path of ${#long} bytes exited $rc: $OUT"
expect_out "is ${#long} bytes, longer than the 4095 a path may have (PATH_MAX)"
# Within PATH_MAX but too long for a xenstore node with the spec: refused, saying why.
mid=$(long_file 4080 mid)
rc=0
OUT=$(bk_ctl attach guest1 "file:$mid" --vdev xvdb 2>&1) || rc=$?
[ "$rc" -eq 2 ] || fail "a spec of $((${#mid} + 5)) bytes exited $rc: $OUT"
expect_out "a xenstore node holds at most"
[ -z "$(bk_ctl list | tail -n +2)" ] || fail "a refused attach left a disk: $(bk_ctl list)"
echo "ok: disks at 300- and 4000-byte paths served whole; longer paths refused, saying why"
