#!/usr/bin/env bash
# The xensim command line: bad input says what is wrong and what to do, with exit status 2
# for a bad command line and 1 for a refused action; nothing is half done.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"

# expect_exit STATUS TEXT CMD...: CMD must exit with STATUS and print TEXT.
expect_exit() {
	local want=$1 text=$2 rc=0
	shift 2
	OUT=$("$@" 2>&1) || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, not $want: $OUT"
	expect_out "$text"
}

export XENSIM_DIR=$(mktemp -d /tmp/xensim.XXXXXX)
cleanup_add "rm -rf '$XENSIM_DIR'"
expect_exit 1 "no simulator runs in $XENSIM_DIR" xensim list
expect_exit 1 "start one with 'xensim --dir $XENSIM_DIR start'" xensim create g1
rmdir "$XENSIM_DIR"

sim_start
expect_exit 2 "unknown command 'bogus'" xensim bogus
expect_exit 2 "create: wrong arguments; usage: xensim create NAME" xensim create
expect_exit 2 "run: wrong arguments; usage: xensim run NAME|ID -- CMD" xensim run Domain-0
expect_exit 2 "unexpected argument '--memory'" xensim create g1 --memory 64
expect_exit 1 "already runs in $XENSIM_DIR" xensim start --dir "$XENSIM_DIR"
[ "$(xensim create g1)" = 1 ] || fail "the first guest is not domain 1"
expect_exit 1 "domain 'g1' already exists" xensim create g1
expect_exit 1 "bad domain name" xensim create "two words"
expect_exit 1 "Domain-0 cannot be destroyed" xensim destroy Domain-0
expect_exit 1 "no domain 'nosuch'" xensim destroy nosuch
expect_exit 1 "no domain 'nosuch'" xensim env nosuch
expect_exit 1 "cannot run /nonexistent" xensim run g1 -- /nonexistent
[ "$(xensim list)" = "$(printf '0 Domain-0\n1 g1')" ] || fail "list changed: $(xensim list)"

# env prints what a shell can eval, and run gives the command that environment.
OUT=$(xensim env g1)
expect_out "export XENSTORED_PATH="
expect_out "export XENSIM_DOMID='1'"
[ "$(xensim run g1 -- sh -c 'echo $XENSIM_DOMID')" = 1 ] || fail "run did not set the domain"
xensim destroy g1
[ "$(xensim create g2)" = 2 ] || fail "a destroyed domain's id was reused"
echo "xensim's command line checks out"
