#!/bin/bash
# The on_poweroff / on_reboot / on_crash actions as the monitor applies
# them, and the hard paths: destroy of a guest that ignores the power
# button, shutdown -t falling back to a hard stop, QEMU killed (-9) with
# on_crash preserve and destroy, the monitor killed (-9: QEMU dies with it
# through PDEATHSIG).  No ghost is ever listed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

state() { vmkit list --json | python3 -c "
import json, sys
print(' '.join(d['state'] for d in json.load(sys.stdin) if d['name'] == '$1') or 'none')"; }
qemu_pid() { cat "$T/run/$1/pid" 2>/dev/null; }

# Four guests boot at once: rr (on_reboot restart), rd (on_reboot
# destroy), pp (on_poweroff preserve), hung (ignores the power button).
guest_cfg rr 'on_reboot = "restart"' >rr.cfg
guest_cfg rd 'on_reboot = "destroy"' >rd.cfg
guest_cfg pp 'on_poweroff = "preserve"' >pp.cfg
guest_cfg hung >hung.cfg
sed -i 's/quiet"/quiet vmkit.noacpi"/' hung.cfg
for n in rr rd pp hung; do ok "create $n" vmkit create $n.cfg; done
for n in rr rd pp hung; do ok "$n reaches VMKIT-READY" wait_log $n VMKIT-READY; done

# on_reboot = "restart": vmkit reboot, then a reboot from inside the guest
p1=$(qemu_pid rr)
ok "reboot rr" vmkit reboot rr
ok "rr boots a second time (VMKIT-READY twice in its console log)" wait_log rr VMKIT-READY 2
ok "rr runs a new QEMU" test "$(qemu_pid rr)" != "$p1"
has "rr is running after the restart" "running blocked" "$(state rr)"
wait_log rr 'built-in shell' 2 20
printf 'reboot -f\n' | vmkit console --timeout 2 rr >/dev/null
ok "guest-initiated reboot: rr boots a third time" wait_log rr VMKIT-READY 3
ok "monitor saw the guest's own reset" grep -q "event SHUTDOWN guest-reset" "$T/monitor.log"

# a console session stays across a restart (it reconnects)
wait_log rr 'built-in shell' 3 20
o=$( (sleep 0.5; "$VMKIT" reboot rr; wait_log rr VMKIT-READY 4; wait_log rr 'built-in shell' 4 20
      printf 'echo across-$((2+3))\n'; sleep 2) | vmkit console --timeout 40 rr)
has "console session survives the restart (reconnects)" "$o" "across-5"

# on_reboot = "destroy"
ok "reboot rd" vmkit reboot rd
ok "on_reboot destroy: rd's runtime dir goes away" wait_gone rd
eq "rd no longer listed" "$(state rd)" none

# on_poweroff = "preserve"
ok "shutdown -w pp" vmkit shutdown -w pp
eq "on_poweroff preserve: pp listed as shutdown" "$(state pp)" shutdown
has "list: s flag" "$(vmkit list | grep '^pp ')" "---s--"
eq "pp's QEMU is gone" "$(pgrep -f "qemu-system.*$T/run/pp/" | wc -l)" 0
fails_with "create over a preserved VM is refused" 1 "pp: a VM of that name is preserved" vmkit create pp.cfg
ok "destroy pp" vmkit destroy pp
ok "pp's runtime dir removed" test ! -e "$T/run/pp"

# a guest that ignores the power button
start=$(date +%s)
ok "shutdown -w -t 3 --force of the hung guest falls back to a hard stop" vmkit shutdown -w -t 3 --force hung
el=$(( $(date +%s) - start ))
ok "... after the timeout ($el s)" test $el -ge 3 -a $el -le 10
ok "hung is gone" test ! -e "$T/run/hung"
ok "create hung again" vmkit create hung.cfg
ok "destroy of the hung guest" vmkit destroy hung
ok "hung gone at once" test ! -e "$T/run/hung"

# QEMU killed: on_crash preserve keeps it as crashed; the default
# (destroy) removes it.  rr is still running (on_crash destroy).
guest_cfg cp 'on_crash = "preserve"' >cp.cfg
ok "create cp (on_crash preserve)" vmkit create cp.cfg
kill -9 "$(qemu_pid cp)"
for _ in $(seq 50); do [ "$(state cp)" = crashed ] && break; sleep 0.1; done
eq "kill -9 QEMU, on_crash preserve: crashed" "$(state cp)" crashed
has "list: c flag" "$(vmkit list | grep '^cp ')" "----c-"
ok "destroy the crashed VM" vmkit destroy cp
eq "cp gone" "$(state cp)" none
kill -9 "$(qemu_pid rr)"
ok "kill -9 QEMU, on_crash destroy: runtime dir goes away" wait_gone rr 10
eq "rr not listed" "$(state rr)" none

# the monitor killed: QEMU dies too, nothing listed
ok "create mk" vmkit create rr.cfg name=mk
mon=$(cut -d' ' -f1 "$T/run/mk/monitor.pid")
q=$(qemu_pid mk)
kill -9 "$mon"
for _ in $(seq 50); do kill -0 "$q" 2>/dev/null || break; sleep 0.1; done
ok "kill -9 monitor: its QEMU died too (PDEATHSIG)" test ! -d "/proc/$q" -o "$(awk '{print $3}' /proc/$q/stat 2>/dev/null)" = Z
eq "kill -9 monitor: no ghost listed" "$(state mk)" none
ok "... and its stale runtime dir was removed" test ! -e "$T/run/mk"
ok "the name is free again" vmkit create rr.cfg name=mk
ok "destroy mk" vmkit destroy mk
no_qemu_left "no QEMU left"
vm_finish
