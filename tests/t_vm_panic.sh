#!/bin/bash
# Guest kernel panics and on_crash, seen by QEMU itself: the guest crashes
# its kernel (echo c > /proc/sysrq-trigger); pvpanic tells QEMU, which (run
# with -action panic=pause) stops it in status guest-panicked, as QMP
# query-status on the VM's socket shows directly; the monitor applies
# on_crash: preserve keeps it so (listed 'c') until destroy; coredump-restart
# writes an ELF core of the guest's memory (readelf reads it; the kernel's
# own panic message is in it) and boots it again.  shutdown -t of a guest
# that ignores the power button: exit 1 "still running after N s", the VM
# untouched (QMP: running); --force destroys it and says so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"
export VMKIT_DUMP_DIR=$T/dump

qmp() { python3 "$TOP/tests/qmp.py" "$T/run/$1/qmp-cli.sock" "${@:2}"; }
status() { qmp "$1" query-status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
panic() { printf '\necho c >/proc/sysrq-trigger\n' | timeout 20 "$VMKIT" console --timeout 3 "$1" >/dev/null 2>&1; }
wait_status() {  # NAME STATUS [SECS]
    _end=$(( $(date +%s) + ${3:-30} ))
    while [ "$(status "$1")" != "$2" ]; do
        [ "$(date +%s)" -gt $_end ] && return 1
        sleep 0.2
    done
}

guest_cfg cp 'on_crash = "preserve"' >cp.cfg
guest_cfg cr 'on_crash = "coredump-restart"' >cr.cfg
guest_cfg na 'extra += " vmkit.noacpi"' >na.cfg
for n in cp cr na; do ok "create $n" vmkit create $n.cfg; done
for n in cp cr na; do ok "$n reaches VMKIT-READY" wait_log $n VMKIT-READY 1 120; done
has "QEMU runs with -action panic=pause" "$(tr '\0' ' ' <"$T/run/cp/argv")" "-action reboot=shutdown,panic=pause"

# on_crash = "preserve"
panic cp
ok "preserve: QEMU says guest-panicked (QMP query-status)" wait_status cp guest-panicked
has "preserve: the guest's console shows the panic" "$(cat "$T/run/cp/console.log")" "Kernel panic - not syncing: sysrq triggered crash"
for _ in $(seq 600); do vmkit list cp | grep -q -- '----c-' && break; sleep 0.1; done
has "preserve: vmkit list shows c" "$(vmkit list cp)" "----c-"
eq "preserve: its QEMU is kept" "$(pgrep -f "qemu-system.*$T/run/cp/" | wc -l)" 1
fails_with "unpause of the crashed VM refused" 1 "cp: VM is not running (state crashed)" vmkit unpause cp
eq "... it is still guest-panicked" "$(status cp)" guest-panicked
has "the monitor saw the event" "$(cat "$T/monitor.log")" "event GUEST_PANICKED"
ok "destroy cp" vmkit destroy cp
eq "cp's QEMU is gone" "$(pgrep -f "qemu-system.*$T/run/cp/" | wc -l)" 0

# on_crash = "coredump-restart"
panic cr
ok "coredump-restart: the guest boots again" wait_log cr VMKIT-READY 2 180
core=$(ls "$T"/dump/cr-*.core 2>/dev/null | head -1)
ok "coredump-restart: a core file in VMKIT_DUMP_DIR" test -s "$core"
has "readelf: an ELF core" "$(readelf -h "$core" 2>&1)" "CORE (Core file)"
ok "the core holds the kernel's panic message" grep -aq "sysrq triggered crash" "$core"
eq "cr runs again (QMP)" "$(status cr)" running

# shutdown -t of a guest that ignores the power button
start=$(date +%s)
fails_with "shutdown -t 3: still running, exit 1" 1 "na: still running after 3 s" vmkit shutdown -t 3 na
el=$(( $(date +%s) - start ))
ok "... after the timeout ($el s)" test $el -ge 3 -a $el -le 20
eq "... and left running (QMP)" "$(status na)" running
vmkit shutdown -t 2 --force na >out 2>err; st=$?
eq "shutdown -t 2 --force: exit 0" "$st" 0
has "... says it destroys" "$(cat err)" "na: still running after 2 s; destroying it (--force)"
ok "... and na is gone" test ! -e "$T/run/na"
fails_with "--force without -t: usage" 2 "--force needs -t" vmkit shutdown --force cr

# shutdown -w without -t waits until the guest powered off
ok "shutdown -w of cr" vmkit shutdown -w cr
ok "cr is gone when shutdown -w returns" test ! -e "$T/run/cr"
no_qemu_left "nothing of this test runs"
vm_finish
