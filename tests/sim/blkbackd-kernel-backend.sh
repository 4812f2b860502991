#!/usr/bin/env bash
# blkbackd --kind vbd never fights the kernel's xen-blkback over a disk. In fake trees of
# sysfs, /proc, the module lists and modprobe.d (BLKBACKD_SYSROOT): with xen-blkback loaded,
# or built in and registered, it exits 1 at once, before taking its pidfile, saying how to
# unload it or keep it out and naming the vbd3 route, while kind vbd3 starts beside it. With
# the module only on disk it starts, and warns until both a blacklist and an install line
# (or module_blacklist= on the kernel command line) keep it out.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"

sim_start
export BLKBACKD_RUNDIR=$XENSIM_DIR/blkbackd
export BLKBACKD_SYSROOT=$XENSIM_DIR/root
R=$BLKBACKD_SYSROOT
LOG=$XENSIM_DIR/blkbackd.log

# blkbackd ARGS in dom0 must exit 1 at once, before taking its pidfile (a daemon that
# serves instead is stopped after 20 s); its output in $OUT.
refused() {
	local rc=0
	OUT=$(timeout 20 "$BUILD/xensim" run Domain-0 -- "$BUILD/blkbackd" "$@" 2>&1) || rc=$?
	[ "$rc" -eq 1 ] || fail "blkbackd $* exited $rc, not 1: $OUT"
	[ ! -e "$BLKBACKD_RUNDIR/$2.pid" ] || fail "the refused blkbackd $* left its pidfile"
	echo "$OUT" >"$XENSIM_DIR/refused.log"
	no_sanitizer_reports "$XENSIM_DIR/refused.log" blkbackd
}

# blkbackd --kind KIND must start and serve; its start-up output (until it serves) in $OUT.
serves() {
	local kind=$1 pid rc=0
	: >"$LOG"
	"$BUILD/xensim" run Domain-0 -- "$BUILD/blkbackd" --kind "$kind" >>"$LOG" 2>&1 &
	pid=$!
	wait_for 20 bk_ctl --kind "$kind" stats >/dev/null 2>&1 ||
		{ kill "$pid"; fail "blkbackd --kind $kind did not start: $(cat "$LOG")"; }
	OUT=$(cat "$LOG")
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || fail "blkbackd --kind $kind exited $rc: $(cat "$LOG")"
	no_sanitizer_reports "$LOG" blkbackd
}

# Loaded as a module: refused, saying what to change.
mkdir -p "$R/sys/bus/xen-backend/drivers/vbd" "$R/sys/module/xen_blkback/parameters"
touch "$R/sys/module/xen_blkback/initstate"
refused --kind vbd
for want in "xen-blkback is loaded" "modprobe -r xen-blkback" "blacklist xen-blkback" \
	"install xen-blkback /bin/false" "/etc/modprobe.d/blkbackd.conf" "kind vbd3" \
	"backendtype=tap"; do
	expect_out "$want"
done
# The module alone, before its driver shows: refused all the same.
rmdir "$R/sys/bus/xen-backend/drivers/vbd"
refused --kind vbd
expect_out "xen-blkback is loaded"
# Kind vbd3 is no kernel driver's: it starts beside xen-blkback, saying nothing of it.
serves vbd3
[[ $OUT != *xen-blkback* ]] || fail "blkbackd --kind vbd3 spoke of xen-blkback: $OUT"

# Built in and registered: refused, with the built-in advice.
mkdir -p "$R/sys/bus/xen-backend/drivers/vbd"
rm "$R/sys/module/xen_blkback/initstate"
refused --kind vbd
expect_out "built into this kernel"
expect_out "initcall_blacklist=xen_blkif_init"
expect_out "backendtype=tap"
# Another kind a kernel driver serves (netback's vif) is refused too.
mkdir -p "$R/sys/bus/xen-backend/drivers/vif"
refused --kind vif
expect_out "a kernel driver serves backend kind vif"

# Neither loaded nor built in, nor on disk: it starts without a word of it.
rm -r "$R/sys"
mkdir -p "$R/proc/sys/kernel" "$R/lib/modules/6.1.0-test"
echo 6.1.0-test >"$R/proc/sys/kernel/osrelease"
echo "console=hvc0" >"$R/proc/cmdline"
echo "kernel/drivers/block/loop.ko: " >"$R/lib/modules/6.1.0-test/modules.dep"
serves vbd
[[ $OUT != *xen-blkback* ]] || fail "blkbackd spoke of a xen-blkback that is not there: $OUT"

# On disk (compressed, as Debian 13 ships it) and nothing keeps it out: a warning.
echo "kernel/drivers/block/xen-blkback/xen-blkback.ko.xz: " \
	>>"$R/lib/modules/6.1.0-test/modules.dep"
serves vbd
expect_out "xen-blkback is not loaded, but this kernel has it"
expect_out "/lib/modules/6.1.0-test/kernel/drivers/block/xen-blkback/xen-blkback.ko.xz"
expect_out "'blacklist xen-blkback' and 'install xen-blkback /bin/false'"

# Blacklisted (either spelling) in the distribution's directory: udev is kept off, but not
# modprobe by name.
mkdir -p "$R/usr/lib/modprobe.d" "$R/etc/modprobe.d"
echo "blacklist xen_blkback  # no kernel backend" >"$R/usr/lib/modprobe.d/blkbackd.conf"
serves vbd
expect_out "xen-blkback is blacklisted"
expect_out "add 'install xen-blkback /bin/false'"
# A file of the same name in /etc hides it: nothing keeps it out again.
echo "# emptied" >"$R/etc/modprobe.d/blkbackd.conf"
serves vbd
expect_out "nothing keeps it out"

# Both lines: no warning.
printf 'blacklist xen-blkback\ninstall xen-blkback /bin/false\n' >"$R/etc/modprobe.d/blkbackd.conf"
serves vbd
[[ $OUT != *xen-blkback* ]] || fail "blkbackd warned with the module kept out: $OUT"
# An install line that loads it after all does not count.
printf 'blacklist xen-blkback\ninstall xen-blkback /sbin/modprobe --ignore-install xen-blkback\n' \
	>"$R/etc/modprobe.d/blkbackd.conf"
serves vbd
expect_out "xen-blkback is blacklisted"
# The kernel command line's module_blacklist= keeps it out alone.
rm "$R/etc/modprobe.d/blkbackd.conf" "$R/usr/lib/modprobe.d/blkbackd.conf"
echo "console=hvc0 module_blacklist=xen_netback,xen_blkback" >"$R/proc/cmdline"
serves vbd
[[ $OUT != *xen-blkback* ]] || fail "blkbackd warned with module_blacklist=xen_blkback: $OUT"
echo "kernel backend: loaded, built-in and vif refused; vbd3 beside it; on-disk module warned" \
	"of until blacklisted and install-blocked"
