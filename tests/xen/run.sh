#!/bin/bash
# Boot Xen + a Linux dom0 under QEMU (TCG) and run one scenario of the real-Xen bench:
#   tests/xen/run.sh check|demo|smoke|xl|bench [4.17|4.20]
# The release (default $XEN_VER, else 4.17) picks Debian 12's Xen 4.17 and Linux 6.1 or Debian
# 13's Xen 4.20 and Linux 6.12, each with its own cache. dom0's console streams to stdout and to
# $CACHE/run-SCENARIO.log; the last line is the summary.
set -euo pipefail
[ -z "${2:-}" ] || XEN_VER=$2
. "$(dirname "$0")/common.sh"

SCENARIO=${1:-}
TIMEOUT=${XEN_BENCH_TIMEOUT:-900}
BLKBACK_BUILD=${BLKBACK_BUILD:-$REPO/build}
export BLKBACK_BUILD

# Boot the images under QEMU with scenario $1, console to stdout and log $2; QEMU's exit status
# goes to QEMU_STATUS. The boot line is the one in shared/xen-under-qemu.md plus dom0_max_vcpus=1:
# with two dom0 vCPUs, dom0 processes crashed at random (corrupted memory) while guests were
# being built, several per 1000 runs; none in 3600 runs with one vCPU. And xsave=0: while a
# guest with two vCPUs runs, XSAVE state goes wrong under TCG and processes in dom0 and the
# guest crash within seconds (segfaults, "malloc(): unsorted double linked list corrupted",
# data that reads back different); with Xen's XSAVE off (FXSAVE only, no AVX), none did.
boot() {
    QEMU_STATUS=0
    # dom0's initramfs (~130 MB: the guest's kernel and, since the nbd engine, libnbd's
    # libxml2 with ICU's 30 MB of data) is held twice while it unpacks: with 512 MiB the
    # unpacking failed ("Initramfs unpacking failed: write error"); the xl scenario also
    # keeps a guest's 128 MiB save image in a tmpfs. 1536 MiB leaves room for guests.
    local mem=768M
    timeout "$TIMEOUT" qemu-system-x86_64 -machine q35 -accel tcg -m 1536 -smp 2 \
        -cpu max,-smap,-smep,-pku -nographic -no-reboot -monitor none -serial stdio \
        -kernel "$BUILD/xen" \
        -append "dom0_mem=$mem,max:$mem console=com1 com1=115200,8n1 smep=0 smap=0 bootscrub=false dom0_max_vcpus=1 xsave=0" \
        -initrd "$BUILD/vmlinuz console=hvc0 earlyprintk=xen loglevel=4 bench=$1${XEN_BENCH_DOM0_ARGS:+ $XEN_BENCH_DOM0_ARGS},$BUILD/dom0.cpio" \
        < /dev/null 2>&1 | sed -u 's/\r//g' | tee "$2" | console_filter "$1" || QEMU_STATUS=${PIPESTATUS[0]}
}

# Pass the console through; for the demo, leave out the boot messages (they stay in the log).
console_filter() {
    if [ "$1" = demo ]; then sed -u -n '/^dom0: Xen userspace up/,$p'; else cat; fi
}

# Print why a run that did not reach its final marker stopped, from QEMU's exit status $1.
why_incomplete() {
    case $1 in
    124) echo "QEMU killed after the ${TIMEOUT} s timeout (XEN_BENCH_TIMEOUT)" ;;
    0) echo "the machine powered off before the scenario finished" ;;
    *) echo "QEMU exited with status $1" ;;
    esac
}

# Print a FAIL line for each step of scenario $1's list ($XEN_DIR/$1.steps) that did not
# print PASS exactly once in log $2, and for each PASS line the list lacks: a step that
# never ran, or ran twice, fails the run as surely as one that said FAIL.
steps_done() {
    local list=$XEN_DIR/$1.steps want got
    want=$(awk '!/^#/ && NF { print $1 }' "$list")
    [ -n "$want" ] || { echo "FAIL steps-listed ($XEN_VER): $list lists no step"; return; }
    got=$(sed -n 's/^PASS \([^ ]*\).*/\1/p' "$2")
    while read -r step; do
        case $(grep -cxF -- "$step" <<<"$got") in
        1) ;;
        0) grep -q "^\(FAIL\|SKIP\) $step\( \|\$\)" "$2" ||
            echo "FAIL step-not-run ($XEN_VER): $step: no PASS, FAIL or SKIP line" ;;
        *) echo "FAIL step-twice ($XEN_VER): $step: $(grep -cxF -- "$step" <<<"$got") PASS lines" ;;
        esac
    done <<<"$want"
    while read -r step; do
        [ -z "$step" ] || grep -qxF -- "$step" <<<"$want" || echo "FAIL step-unlisted ($XEN_VER): $step: PASS, but not in $list"
    done <<<"$got"
}

main() {
    case $SCENARIO in
    check | demo | xl | bench)
        for t in blkbackd blkbackctl $([ "$SCENARIO" = check ] && echo blkfront tests/hostile/hostile); do
            [ -x "$BLKBACK_BUILD/$t" ] || die "$BLKBACK_BUILD/$t is missing: run 'make check-xen' (or 'make demo'), which builds it"
        done ;;
    smoke) ;;
    *) die "usage: run.sh check|demo|smoke|xl|bench [4.17|4.20]" ;;
    esac
    command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found: apt-get install qemu-system-x86"
    [[ $CACHE != *,* && $CACHE != *" "* ]] || die "the cache path must not contain commas or spaces: $CACHE"
    "$XEN_DIR/fetch.sh"
    XEN_SCENARIO=$SCENARIO "$XEN_DIR/mkimages.sh"
    local log=$CACHE/run-$SCENARIO.log start passed failed skipped
    start=$(date +%s)
    say "booting Xen $XEN_VER + dom0 under QEMU (scenario $SCENARIO, timeout ${TIMEOUT} s, log $log)"
    boot "$SCENARIO" "$log"
    if ! grep -q "^BENCH-DONE $SCENARIO\$" "$log"; then
        echo "FAIL bench-completed ($XEN_VER): $(why_incomplete "$QEMU_STATUS")" | tee -a "$log"
    fi
    echo "run.sh: Xen $XEN_VER boot of scenario $SCENARIO took $(($(date +%s) - start)) s" | tee -a "$log"
    steps_done "$SCENARIO" "$log" | tee -a "$log"
    passed=$(grep -c '^PASS ' "$log" || true)
    failed=$(grep -c '^FAIL ' "$log" || true)
    skipped=$(grep -c '^SKIP ' "$log" || true)
    echo "$passed passed, $failed failed, $skipped skipped (Xen $XEN_VER, $SCENARIO)"
    [ "$failed" = 0 ]
}

main "$@"
