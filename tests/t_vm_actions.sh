#!/bin/bash
# The on_poweroff / on_reboot / on_crash actions as the monitor applies
# them, and the hard paths: destroy of a guest that ignores the power
# button, shutdown -t falling back to a hard stop, QEMU killed (-9) with
# on_crash preserve and destroy, the monitor killed (-9: QEMU dies with it
# through PDEATHSIG).  No ghost is ever listed.  What vmkit says is also
# asked of QEMU (QMP), /proc and the guest (QEMU's console log and socket).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

state() { vmkit list --json | python3 -c "
import json, sys
print(' '.join(d['state'] for d in json.load(sys.stdin) if d['name'] == '$1') or 'none')"; }

# Four guests boot at once: rr (on_reboot restart), rd (on_reboot
# destroy), pp (on_poweroff preserve), hung (ignores the power button).
guest_cfg rr 'on_reboot = "restart"' >rr.cfg
guest_cfg rd 'on_reboot = "destroy"' >rd.cfg
guest_cfg pp 'on_poweroff = "preserve"' >pp.cfg
guest_cfg hung >hung.cfg
sed -i 's/quiet"/quiet vmkit.noacpi"/' hung.cfg
for n in rr rd pp hung; do ok "create $n" vmkit create $n.cfg; done
for n in rr rd pp hung; do ok "$n reaches VMKIT-READY" wait_log $n VMKIT-READY; done
for n in rr rd pp hung; do eq "QMP: $n is running" "$(qstatus $n)" running; done
wait_log hung 'built-in shell' 1 20
has "the hung guest's own /proc/cmdline has vmkit.noacpi" "$(gsh hung 'cat /proc/cmdline')" vmkit.noacpi

# on_reboot = "restart": vmkit reboot, then a reboot from inside the guest
p1=$(qemu_pid rr)
ok "reboot rr" vmkit reboot rr
ok "rr boots a second time (VMKIT-READY twice in its console log)" wait_log rr VMKIT-READY 2
ok "rr runs a new QEMU" test "$(qemu_pid rr)" != "$p1"
one_of "rr is running after the restart" "$(state rr)" "running blocked"
ok "/proc: rr's old QEMU $p1 is gone" proc_gone "$p1"
ok "/proc: the new QEMU runs with rr's runtime dir" proc_runs "$(qemu_pid rr)" "$T/run/rr/"
eq "QMP: the new QEMU is running" "$(qstatus rr)" running
p2=$(qemu_pid rr)
wait_log rr 'built-in shell' 2 20
ok_in "type reboot -f on rr's console" 'reboot -f\n' vmkit console --timeout 2 rr
ok "guest-initiated reboot: rr boots a third time" wait_log rr VMKIT-READY 3
ok "/proc: the QEMU before the guest's reboot ($p2) is gone" proc_gone "$p2"
ok "monitor saw the guest's own reset" grep -q "event SHUTDOWN guest-reset" "$T/monitor.log"

# a console session stays across a restart (it reconnects)
wait_log rr 'built-in shell' 3 20
o=$( (sleep 0.5; "$VMKIT" reboot rr; wait_log rr VMKIT-READY 4; wait_log rr 'built-in shell' 4 20
      printf 'echo across-$((2+3))\n'; sleep 2) | vmkit console --timeout 40 rr)
has "console session survives the restart (reconnects)" "$o" "across-5"

# on_reboot = "destroy"
qp=$(qemu_pid rd)
ok "reboot rd" vmkit reboot rd
ok "on_reboot destroy: rd's runtime dir goes away" wait_gone rd
ok "/proc: rd's QEMU $qp is gone" proc_gone "$qp"
eq "rd no longer listed" "$(state rd)" none

# on_poweroff = "preserve"
qp=$(qemu_pid pp)
ok "shutdown -w pp" vmkit shutdown -w pp
ok "/proc: pp's QEMU $qp is gone" proc_gone "$qp"
ok "pp's power-button handler ran (QEMU's console log)" in_log pp VMKIT-POWERBUTTON
ok "pp's kernel powered down (QEMU's console log)" in_log pp "reboot: Power down"
eq "on_poweroff preserve: pp listed as shutdown" "$(state pp)" shutdown
has "list: s flag" "$(vmkit list | grep '^pp ')" "---s--"
eq "pp's QEMU is gone" "$(pgrep -f "qemu-system.*$T/run/pp/" | wc -l)" 0
fails_with "create over a preserved VM is refused" 1 "pp: a VM of that name is preserved" vmkit create pp.cfg
ok "destroy pp" vmkit destroy pp
ok "pp's runtime dir removed" test ! -e "$T/run/pp"

# a guest that ignores the power button
qp=$(qemu_pid hung)
exec 7<"$T/run/hung/console.log"    # readable after the runtime dir goes
start=$(date +%s)
ok "shutdown -w -t 3 --force of the hung guest falls back to a hard stop" vmkit shutdown -w -t 3 --force hung
el=$(( $(date +%s) - start ))
ok "... after the timeout ($el s)" test $el -ge 3 -a $el -le 10
ok "hung is gone" test ! -e "$T/run/hung"
log=$(cat <&7); exec 7<&-
has "the hung guest's console log: it had booted" "$log" VMKIT-READY
eq "... and no button handler ran (it has none)" "$(echo "$log" | grep -c VMKIT-POWERBUTTON)" 0
ok "/proc: hung's QEMU $qp is gone" proc_gone "$qp"
ok "create hung again" vmkit create hung.cfg
qp=$(qemu_pid hung)
ok "/proc: hung's new QEMU runs" proc_runs "$qp" "$T/run/hung/"
ok "destroy of the hung guest" vmkit destroy hung
ok "/proc: ... its QEMU $qp is gone at once" proc_gone "$qp" 1
ok "hung gone at once" test ! -e "$T/run/hung"

# QEMU killed: on_crash preserve keeps it as crashed; the default
# (destroy) removes it.  rr is still running (on_crash destroy).
guest_cfg cp 'on_crash = "preserve"' >cp.cfg
ok "create cp (on_crash preserve)" vmkit create cp.cfg
qp=$(qemu_pid cp)
ok "/proc: cp's QEMU runs" proc_runs "$qp" "$T/run/cp/"
kill -9 "$qp"
for _ in $(seq 600); do [ "$(state cp)" = crashed ] && break; sleep 0.1; done
eq "kill -9 QEMU, on_crash preserve: crashed" "$(state cp)" crashed
has "list: c flag" "$(vmkit list | grep '^cp ')" "----c-"
ok "destroy the crashed VM" vmkit destroy cp
eq "cp gone" "$(state cp)" none
mp=$(mon_pid rr)
kill -9 "$(qemu_pid rr)"
ok "kill -9 QEMU, on_crash destroy: runtime dir goes away" wait_gone rr 60
ok "/proc: rr's monitor $mp is gone too" proc_gone "$mp"
eq "rr not listed" "$(state rr)" none

# the monitor killed: QEMU dies too, nothing listed
ok "create mk" vmkit create rr.cfg name=mk
mon=$(cut -d' ' -f1 "$T/run/mk/monitor.pid")
q=$(qemu_pid mk)
kill -9 "$mon"
for _ in $(seq 600); do kill -0 "$q" 2>/dev/null || break; sleep 0.1; done
ok "kill -9 monitor: its QEMU died too (PDEATHSIG)" test ! -d "/proc/$q" -o "$(awk '{print $3}' /proc/$q/stat 2>/dev/null)" = Z
eq "kill -9 monitor: no ghost listed" "$(state mk)" none
ok "... and its stale runtime dir was removed" test ! -e "$T/run/mk"
ok "the name is free again" vmkit create rr.cfg name=mk
eq "QMP: the new mk is named mk" "$(qname mk)" mk
qp=$(qemu_pid mk)
ok "destroy mk" vmkit destroy mk
ok "/proc: mk's QEMU $qp is gone" proc_gone "$qp"
no_qemu_left "no QEMU left"
vm_finish
