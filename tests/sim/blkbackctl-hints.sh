#!/usr/bin/env bash
# In the simulator, blkbackctl's advice names the simulator's commands: a domain that does
# not exist points to 'xensim list', not to xl, which does not run there.
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"

bk_sim guest1

for args in "attach nosuch mem:size=1M" "attach 7 mem:size=1M" "detach nosuch xvdb"; do
	# shellcheck disable=SC2086 # the words of $args are the arguments
	expect_fail bk_ctl $args
	expect_out "'xensim list' shows the running domains"
	[[ $OUT != *"xl list"* ]] || fail "blkbackctl $args names xl in the simulator: $OUT"
done
echo "blkbackctl's advice in the simulator names xensim"
