#!/usr/bin/env bash
# Part 2 of docs/tutorial.md runs as written and prints what the doc shows; so does the
# README's "Try it without a Xen host" (tests/sim/lib-tutorial.sh says how a part runs and
# what may differ from a reader's shell).
#
# The README's block runs the same way, with blkbackd's run directory in the test's
# XENSIM_DIR; it shows no output, but none of its commands may warn or fail.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib-tutorial.sh"
tutorial_setup

run_doc tutorial "$REPO/docs/tutorial.md" simulator
[ ! -S "$XENSIM_DIR/control" ] || fail "the walkthrough left xensim running"
compare_doc tutorial "$REPO/docs/tutorial.md" simulator ||
	fail "docs/tutorial.md part 2 does not show what it prints"

export BLKBACKD_RUNDIR=$work/readme/xensim/blkbackd
run_doc readme "$REPO/README.md" readme
compare_doc readme "$REPO/README.md" readme || fail "cannot read the output"
# The tools prefix their diagnostics with their name ("blkfront bench: ..."): none may show.
if grep -E '^(blkfront|blkbackctl|blkbackd|xensim)( [a-z]+)?: ' "$work"/readme/[0-9]*; then
	fail "a command of the README's 'Try it without a Xen host' warns or fails"
fi
stop_leftovers
no_san_reports
echo "docs/tutorial.md part 2 and the README's simulator commands run and print as shown"
