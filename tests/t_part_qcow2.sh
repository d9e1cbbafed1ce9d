#!/bin/bash
# The partition tests again on qcow2 images (FMT=qcow2 in part_lib.sh):
# tables are read and written through the block layer, so everything
# must work the same as on raw.  Skipped while vmkit cannot open qcow2.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

qemu-img create -q -f qcow2 probe.qcow2 16M
if ! vmkit part init probe.qcow2 mbr >/dev/null 2>&1; then
    skip "part tests on qcow2" "vmkit cannot write qcow2 yet: $(vmkit part init probe.qcow2 mbr 2>&1 | head -1)"
    finish
    exit $?
fi
ok "qemu-img check after part init" qemu-img check -q probe.qcow2
for t in t_part t_part_gpt t_part_legacy; do
    ok "$t on qcow2" env FMT=qcow2 VMKIT="$VMKIT" SAN="$SAN" bash "$TOP/tests/$t.sh"
done
finish
