#!/usr/bin/env bash
# Part 2 of docs/tutorial.md runs as written: every ```sh block between its two marker
# comments, in order, under `set -e`. Three things differ from a reader's shell, and only
# these: the build step is skipped (make check has built everything), `build/` becomes the
# build being tested (the ASan one in make check-sim), and the simulator and blkbackd get
# private run directories through XENSIM_DIR and BLKBACKD_RUNDIR.
here=$(dirname "$0")
source "$here/../helpers.sh"
requires python3 pidof

script=$(mktemp /tmp/tutorial.XXXXXX)
export XENSIM_DIR=$(mktemp -d /tmp/xensim.XXXXXX) BLKBACKD_RUNDIR
BLKBACKD_RUNDIR=$XENSIM_DIR/blkbackd
cleanup_add "rm -rf '$script' '$XENSIM_DIR'"
# blkbackd --daemon and the simulator talk to /dev/null: sanitizer reports go to files.
export ASAN_OPTIONS=log_path=$XENSIM_DIR/san UBSAN_OPTIONS=log_path=$XENSIM_DIR/san
cleanup_add "'$BUILD/xensim' stop >/dev/null 2>&1"

python3 - "$REPO/docs/tutorial.md" "$BUILD" >"$script" <<'PY' || fail "cannot extract part 2"
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"<!-- simulator walkthrough:.*?-->(.*?)<!-- end of simulator walkthrough -->",
              text, re.S)
if not m:
    sys.exit("docs/tutorial.md has no simulator walkthrough markers")
blocks = re.findall(r"```sh\n(.*?)```", m.group(1), re.S)
print("set -ex")
for b in blocks:
    for line in b.splitlines():
        if line.strip() != "make":
            print(re.sub(r"(?<![\w/])build/", sys.argv[2] + "/", line))
PY
cat "$script"
bash "$script" || fail "the simulator walkthrough of docs/tutorial.md failed"
[ ! -S "$XENSIM_DIR/control" ] || fail "the walkthrough left xensim running"
for f in "$XENSIM_DIR"/san.*; do
	[ -e "$f" ] || continue
	cat "$f"
	fail "sanitizer report: $f"
done
echo "docs/tutorial.md part 2 runs as written"
