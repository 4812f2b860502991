# Sourced by the image tests (qcow2-*.sh), after tests/helpers.sh: images made with qemu-img in
# a directory of the test's own, and checks that blkbackd's qemu-storage-daemons are gone.
#   image_setup                 make $IMG_DIR (removed at exit)
#   image_make FMT NAME SIZE    qemu-img create -f FMT $IMG_DIR/NAME SIZE
#   qsd_pids DIR                pids of the qemu-storage-daemons whose command line names DIR
#   qsd_nothing_left DIR WHEN   fail if a qemu-storage-daemon of DIR, or one of its private
#                               directories (DIR/qsd-*) with a socket, is left
requires qemu-img qemu-storage-daemon

image_setup() {
	IMG_DIR=$(mktemp -d /tmp/blkback-img.XXXXXX) || fail "mktemp failed"
	cleanup_add "rm -rf '$IMG_DIR'"
}

image_make() {
	qemu-img create -q -f "$1" "$IMG_DIR/$2" "$3" || fail "qemu-img create -f $1 $2 $3 failed"
}

# (pgrep -f matches the whole command line: the private directory is in it.)
qsd_pids() { pgrep -f "^[^ ]*qemu-storage-daemon .*$1/qsd-" || true; }

qsd_gone() { [ -z "$(qsd_pids "$1")" ]; }

qsd_nothing_left() {
	local p s
	p=$(qsd_pids "$1")
	[ -z "$p" ] || fail "$2: qemu-storage-daemon left running: $(ps -o pid,args -p "${p//$'\n'/,}")"
	s=$(find "$1" -maxdepth 1 -name 'qsd-*' 2>/dev/null)
	[ -z "$s" ] || fail "$2: private directories left: $s $(ls -l $s)"
	return 0
}
