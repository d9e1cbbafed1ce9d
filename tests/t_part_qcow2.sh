#!/bin/bash
# The partition tests again on qcow2 images (FMT=qcow2 in part_lib.sh):
# tables are read and written through the block layer, so everything
# must work the same as on raw.  vmkit's qcow2 driver is its own: when it
# cannot write the probe, that is a failure (the runs below fail too).
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

ok "qemu-img create probe.qcow2" qemu-img create -q -f qcow2 probe.qcow2 16M
ok "vmkit part init on qcow2" vmkit part init probe.qcow2 mbr
ok "qemu-img check after part init" qemu-img check -q probe.qcow2
for t in $(pick "t_part t_part_gpt t_part_legacy" "t_part_gpt" "t_part t_part_gpt t_part_legacy"); do   # the sanitizer build samples
    ok "$t on qcow2" env FMT=qcow2 VMKIT="$VMKIT" SAN="$SAN" bash "$TOP/tests/$t.sh"
done
finish
