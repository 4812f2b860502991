#!/bin/bash
# Download the Debian packages of the third-party Xen programs the simulator suites run
# (test-xenstore, xenstore-*, vchan-socket-proxy) and unpack them into $SIM_CACHE/root.
# Idempotent: a stamp file records what is unpacked. SIM_CACHE defaults to .cache/sim.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${SIM_CACHE:-$REPO/.cache/sim}
ROOT=$CACHE/root
PKGS=(xen-utils-4.17 xenstore-utils)

say() { echo "${0##*/}: $*" >&2; }
die() { echo "${0##*/}: error: $*" >&2; exit 1; }

main() {
	local stamp=$CACHE/fetch.stamp p deb
	if [ -d "$ROOT" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${PKGS[*]}" ]; then
		say "cache up to date ($ROOT)"
		return
	fi
	command -v dpkg-deb >/dev/null || die "dpkg-deb not found: the simulator suites need a Debian host"
	mkdir -p "$CACHE/debs"
	# keep the cache out of git whatever the repository's .gitignore says
	echo '*' > "$CACHE/.gitignore"
	for p in "${PKGS[@]}"; do
		if ls "$CACHE/debs/${p}_"*.deb >/dev/null 2>&1; then
			say "have $p"
		elif ls "$REPO/.cache/xen-4.17/debs/${p}_"*.deb >/dev/null 2>&1; then
			say "copying $p from the real-Xen bench cache"
			cp "$(ls -t "$REPO/.cache/xen-4.17/debs/${p}_"*.deb | head -n1)" "$CACHE/debs/"
		else
			command -v apt-get >/dev/null || die "apt-get not found: cannot download $p"
			say "downloading $p into $CACHE/debs"
			(cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$p") ||
				die "apt-get download $p failed (is the apt cache current? try apt-get update)"
		fi
	done
	rm -rf "$ROOT.tmp" && mkdir -p "$ROOT.tmp"
	for p in "${PKGS[@]}"; do
		deb=$(ls -t "$CACHE/debs/${p}_"*.deb | head -n1) || die "no .deb for $p"
		say "unpacking ${deb##*/}"
		dpkg-deb -x "$deb" "$ROOT.tmp"
	done
	rm -rf "$ROOT" && mv "$ROOT.tmp" "$ROOT"
	echo "${PKGS[*]}" > "$stamp"
	say "done: $ROOT"
}

main "$@"
