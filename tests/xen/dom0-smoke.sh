#!/bin/bash
# The smoke scenario (runs in dom0): the bench itself works - xl sees dom0, a PV guest with no
# disk boots, prints on its console and powers off. Needs no blkbackd.
set -euo pipefail
. /bench/lib.sh

check xl-list "xl list does not show Domain-0" bash -c 'xl list | grep -q "^Domain-0 "'
t0=$(date +%s)
if start_guest smoke smoke; then pass guest-created; else fail guest-created "$(oneline /tmp/smoke.create.log)"; fi
expect_ok guest-console smoke smoke 60
check guest-poweroff "guest still running after 60 s" wait_for 60 guest_gone smoke
echo "smoke: guest lived $(($(date +%s) - t0)) s"
show "$(guest_log smoke)" "  smoke"
echo "BENCH-DONE smoke"
