#!/usr/bin/env bash
# BLKBACKD_HOTPLUG_TIMEOUT past libxl's own limit. libxl kills the hotplug script after
# 40 s: killed, the script would report nothing (no hotplug-status error), and blkbackd,
# once a slow open ended, would serve a disk that xl has failed. So add waits 35 s at
# most whatever it is told, and says so: an attach with BLKBACKD_HOTPLUG_TIMEOUT=45 works,
# printing that warning (in xl's output, where the script's stderr goes).
here=$(dirname "$0")
source "$here/../helpers.sh"
source "$here/lib.sh"
source "$here/lib-blkback.sh"
source "$here/lib-xl.sh"
requires python3

bk_sim guest1
xl_init guest1 vbd3
OUT=$(BLKBACKD_HOTPLUG_TIMEOUT=45 libxl attach "$DOM" 51728 mem:size=4M --script "$SCRIPT" 2>&1) ||
	fail "the attach failed: $OUT"
expect_out "libxl: added $BE"
expect_out "blkbackctl: warning: hotplug add waits 35 s at most, not 45: libxl kills the hotplug script after 40 s"
OUT=$(BLKBACKD_HOTPLUG_TIMEOUT=45 libxl detach "$DOM" 51728 --script "$SCRIPT" 2>&1) ||
	fail "the detach failed: $OUT"
[[ $OUT != *warning* ]] || fail "remove warned: $OUT"
xl_nothing_left "after the detach"
echo "ok: add's wait stays under libxl's 40 s whatever BLKBACKD_HOTPLUG_TIMEOUT says"
