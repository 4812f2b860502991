# The xl-doc step (sourced by dom0-xl.sh on Xen 4.20 and dom0-check.sh on 4.17): docs/xl.md's
# walkthrough for this dom0's release runs as written here and prints what the doc shows, the
# way tests/sim/tutorial.sh runs docs/tutorial.md in the simulator.
#
# Every ```sh block between the doc's two marker comments for the release (<!-- xl
# walkthrough 4.20: ... --> and <!-- end of xl walkthrough 4.20 -->; 4.17 likewise) runs, in
# order, in one bash under `set -e`. A plain ``` block right after an ```sh block is what
# that block prints (stdout and stderr): it must match what this run printed, line by line,
# words compared with runs of blanks as one. In a sample, a line `...` stands for one or more
# lines left out and a line ending in ` ...` for the rest of a line. The numbers that differ
# from run to run are only these: in the table of `xl block-list`, the handle (the domain
# id), evt-ch, ring-ref and BE-path columns.
#
# What differs from a reader's dom0, and only this:
# - the domain config's `kernel =` and `ramdisk =` lines name the bench's guest kernel and
#   initramfs, and its `extra =` line gets `bench=xldoc` (the bench guest's /init idles);
# - after a command `xl create` or `xl block-attach`, the step waits (up to 120 s) until
#   every disk backend in xenstore is Connected, as a reader waits for the guest to boot or
#   to take the disk before typing the next command;
# - blkbackd already runs (on 4.20 started by the unit's ExecStart, step_setup; on 4.17 the
#   check scenario's blkbackd --kind vbd, step_xl_create_vbd), and the set-up blocks before
#   the markers are not run (apt, systemd, modprobe.d: this dom0 has no apt and no systemd,
#   booted into Xen already, and the 4.17 one has no xen-blkback to keep out);
# - afterwards the step destroys the guest if the walkthrough left it running, detaches the
#   loop device and deletes the files the walkthrough made.

XLDOC=/bench/xl.md
XLDOC_DIR=/tmp/xl-doc

# Split the part of $XLDOC marked for release $XEN_REL into $XLDOC_DIR/N.sh (block N's
# commands) and N.want (the sample after it, where the doc shows one); print how many sh
# blocks there are.
xldoc_extract() {
    rm -rf "$XLDOC_DIR" && mkdir -p "$XLDOC_DIR"
    awk -v dir="$XLDOC_DIR" -v rel="$XEN_REL" '
        index($0, "<!-- xl walkthrough " rel ":") == 1 { on = 1; next }
        index($0, "<!-- end of xl walkthrough " rel " -->") == 1 { on = 0; next }
        !on { next }
        fence && /^```[ \t]*$/ { fence = 0; close(out); next }
        fence { print > out; next }
        /^```sh[ \t]*$/ { n++; out = dir "/" n ".sh"; fence = 1; prev = "sh"; printf "" > out; next }
        /^```[ \t]*$/ {
            fence = 1
            if (prev == "sh") { out = dir "/" n ".want"; prev = "sample" } else { out = "/dev/null"; prev = "other" }
            next
        }
        /^```/ { fence = 1; out = "/dev/null"; prev = "other"; next }
        END { print n + 0 }
    ' "$XLDOC"
}

# Print the script that runs blocks 1..$1: block N's output goes to $XLDOC_DIR/N.got; the
# bench's substitutions (above) applied.
xldoc_script() {
    local i
    echo 'set -e'
    # every disk backend (kinds vbd and vbd3) in xenstore is Connected, and there is one
    echo 'xldoc_settled() { xenstore-ls -f /local/domain/0/backend 2>/dev/null | awk -F " = " '"'"'$1 ~ /\/backend\/vbd3?\/[0-9]+\/[0-9]+\/state$/ { n++; if ($2 != "\"4\"") b++ } END { exit !(n > 0 && b == 0) }'"'"'; }'
    echo 'xldoc_wait() { local n=0; until xldoc_settled; do n=$((n + 1)); [ $n -lt 600 ] || { echo "xl-doc: disks not Connected after 120 s" >&2; return 1; }; sleep 0.2; done; }'
    for ((i = 1; i <= $1; i++)); do
        echo "exec > '$XLDOC_DIR/$i.got' 2>&1"
        sed -e 's|^kernel *=.*|kernel = "/boot/guest/vmlinux"|' \
            -e 's|^ramdisk *=.*|ramdisk = "/boot/guest/initrd.cpio"|' \
            -e 's|^\(extra *= *"[^"]*\)"|\1 bench=xldoc"|' "$XLDOC_DIR/$i.sh" |
            awk '{ print } /^[ \t]*xl (create|block-attach)( |$)/ { print "xldoc_wait" }'
    done
}

# Print file $1 with blank runs squeezed and the per-run columns of xl block-list's table
# (handle, evt-ch, ring-ref, BE-path: words 3, 5, 6, 7 of the rows under its header) as <n>.
xldoc_norm() {
    awk '
        $1 == "Vdev" && $2 == "BE" && $3 == "handle" { table = 1; $1 = $1; print; next }
        table && $1 ~ /^[0-9]+$/ && NF >= 7 { $3 = "<n>"; $5 = "<n>"; $6 = "<n>"; $7 = "<n>"; print; next }
        table && $0 == "..." { print; next }
        { table = 0; $1 = $1; print }
    ' "$1"
}

# Succeed if sample line S[$1] matches printed line R[$2] (a trailing " ..." matches the rest).
xldoc_line_ok() {
    local s=${S[$1]} r=${R[$2]}
    if [[ $s == *" ..." ]]; then s=${s% ...}; [[ "$r " == "$s "* ]]; else [ "$s" = "$r" ]; fi
}

# Succeed if sample lines S[$1..] match printed lines R[$2..] ("..." lines: one or more).
xldoc_match() {
    local i=$1 j=$2 k
    if [ "$i" -ge "${#S[@]}" ]; then [ "$j" -ge "${#R[@]}" ]; return; fi
    if [ "${S[$i]}" = "..." ]; then
        for ((k = j + 1; k <= ${#R[@]}; k++)); do xldoc_match $((i + 1)) "$k" && return 0; done
        return 1
    fi
    [ "$j" -lt "${#R[@]}" ] && xldoc_line_ok "$i" "$j" && xldoc_match $((i + 1)) $((j + 1))
}

# Remove what the walkthrough made, whatever state it stopped in.
xldoc_cleanup() {
    xl destroy vm1 >/dev/null 2>&1 || true
    losetup -d /dev/loop7 2>/dev/null || true
    rm -f /srv/vm1.img /srv/vm1-data.img /srv/extra.img /etc/xen/vm1.cfg
}

# xl-doc: docs/xl.md's walkthrough for this release runs as written (see above) and every
# block prints what the doc shows after it; afterwards no domain vm1, no disk backend, and
# blkbackd (pid $1) has as many fds as before.
step_xl_doc() {
    local n i why= rc=0 d t0 t1 pid=$1
    if [ ! -f "$XLDOC" ]; then fail xl-doc "$XLDOC is not in the dom0 image"; return; fi
    n=$(xldoc_extract)
    [ "$n" -gt 0 ] || { fail xl-doc "no sh block between the xl walkthrough $XEN_REL markers of docs/xl.md"; return; }
    xldoc_script "$n" > "$XLDOC_DIR/run.sh"
    d=$(pid_fds "$pid")
    now_ms; t0=$NOW_MS
    bash "$XLDOC_DIR/run.sh" || rc=$?
    now_ms; t1=$NOW_MS
    echo "dom0: docs/xl.md's walkthrough ($n blocks) ran in $(((t1 - t0) / 1000)) s (exit $rc)"
    for ((i = 1; i <= n; i++)); do
        sed 's/^/  xl.md block '"$i"'$ /' "$XLDOC_DIR/$i.sh"
        [ -f "$XLDOC_DIR/$i.got" ] || { why+="block $i did not run (a command of an earlier block failed); "; break; }
        show "$XLDOC_DIR/$i.got" "  xl.md block $i printed"
        [ -f "$XLDOC_DIR/$i.want" ] || continue
        mapfile -t S < <(xldoc_norm "$XLDOC_DIR/$i.want")
        mapfile -t R < <(xldoc_norm "$XLDOC_DIR/$i.got")
        if ! xldoc_match 0 0; then
            why+="block $i printed other than the doc shows: $(oneline "$XLDOC_DIR/$i.got"); "
            show "$XLDOC_DIR/$i.want" "  xl.md block $i shows"
        fi
    done
    [ "$rc" = 0 ] || why+="the walkthrough stopped with status $rc (last output: $(oneline "$(ls -t "$XLDOC_DIR"/*.got | head -n1)")); "
    guest_gone vm1 || why+="domain vm1 still exists after the walkthrough; "
    wait_for 30 eval '! xenstore-ls -f /local/domain/0/backend 2>/dev/null | grep -q "/[0-9]*/[0-9]*/params"' ||
        why+="disk backends are left in xenstore: $(xenstore-ls -f /local/domain/0/backend 2>/dev/null | grep /params | head -n3 | tr '\n' ' '); "
    wait_for 30 eval '[ "$(pid_fds "$pid")" -le "$d" ]' || why+="blkbackd has $(pid_fds "$pid") fds, $d before the walkthrough; "
    xldoc_cleanup
    if [ -z "$why" ]; then pass xl-doc; else fail xl-doc "${why%; }"; fi
}
