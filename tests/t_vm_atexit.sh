#!/bin/bash
# The per-VM monitor is a fork of the program that called vk_vm_start; it
# must end with _exit, so the embedding program's atexit handlers run once,
# in that program (tests/tools/vkatexit.c registers one that appends its
# PID to a file).  Both ways a monitor ends: the VM destroyed, and a start
# that fails inside the monitor (QMP not up within 1 ms).
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
TOOL=$(dirname "$VMKIT")/tools/vkatexit
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
mkdir -p -m 700 "$T/run" "$T/etc"
trap '"$VMKIT" destroy ae >/dev/null 2>&1; rm -rf "$T"' EXIT
printf 'name = "ae"\nmemory = 64\nvif = []\nvnc = 0\n' >ae.cfg

for how in ok fail; do
    rm -f mark
    ok "$how: library start (and end) of a VM" "$TOOL" ae.cfg mark $how
    pid=$(head -1 "$T/.out")
    eq "$how: the atexit handler ran exactly once, in the program" "$(cat mark 2>/dev/null)" \
        "atexit $pid"
    [ ! -e "$T/run/ae" ]; eq "$how: no runtime directory left" "$?" 0
done
finish
