#!/bin/bash
# shutdown -w right after create: the power button pressed while the guest
# is still booting (no acpid yet) is lost, as ACPI button events are; vmkit
# presses it again every 10 s while it waits, so the guest still powers
# off by itself well before the hard-stop timeout.  on_poweroff=preserve
# keeps the runtime directory of a guest that powered off (a hard stop
# removes it), and the guest's button handler prints VMKIT-POWERBUTTON.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

guest_cfg early 'on_poweroff = "preserve"' >early.cfg
ok "create" vmkit create early.cfg
qp=$(qemu_pid early)
ok "/proc: early's QEMU runs" proc_runs "$qp" "$T/run/early/"
s=$(date +%s)
ok "shutdown -w -t 90 at once" vmkit shutdown -w -t 90 early
d=$(( $(date +%s) - s ))
eq "well before the 90 s hard stop" "$([ $d -lt 60 ] && echo yes || echo "no: ${d}s")" yes
has "the guest's button handler ran" "$(cat "$T/run/early/console.log" 2>/dev/null)" VMKIT-POWERBUTTON
ok "the guest's kernel powered down (QEMU's console log)" in_log early "reboot: Power down"
ok "/proc: early's QEMU $qp is gone" proc_gone "$qp"
has "preserved as shut down, not hard-stopped" "$(vmkit list --json 2>&1)" '"shutdown"'
ok "destroy the preserved VM" vmkit destroy early
ok "runtime dir gone" wait_gone early 60
no_qemu_left "no QEMU left"
vm_finish
