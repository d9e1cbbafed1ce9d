#!/bin/bash
# What t_vm_actions does not reach: a real guest kernel panic (sysrq 'c';
# pvpanic tells QEMU: GUEST_PANICKED) under on_crash preserve / restart /
# destroy; a guest that resets at once forever (32 MiB is too little for
# the Debian kernel) under on_reboot restart: the monitor gives up after
# VK_MAX_RESTARTS and preserves it as crashed; pid reuse (the pidfiles
# name live processes that are not ours: no ghost, nothing of theirs is
# killed); the interactive console on a pseudo-terminal (raw mode, Ctrl-]
# leaves, the terminal's modes restored: tests/tools/ptyconsole.py);
# concurrent vmkit commands on one VM.  Claims are also asked of QEMU
# (QMP), /proc and the guest (QEMU's console log).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

state() { vmkit list --json | python3 -c "
import json, sys
print(' '.join(d['state'] for d in json.load(sys.stdin) if d['name'] == '$1') or 'none')"; }
# panic NAME: crash the guest's kernel from its shell.
panic() { printf '\necho c >/proc/sysrq-trigger\n' | timeout 10 "$VMKIT" console --timeout 3 "$1" >/dev/null 2>&1; }
# wait_state NAME STATE [SECS]
wait_state() {
    _end=$(( $(date +%s) + ${3:-20} ))
    while [ "$(state "$1")" != "$2" ]; do
        [ "$(date +%s)" -gt $_end ] && return 1
        sleep 0.1
    done
}

guest_cfg cp 'on_crash = "preserve"' >cp.cfg
guest_cfg cr 'on_crash = "restart"' >cr.cfg
guest_cfg cd >cd.cfg              # on_crash defaults to destroy
guest_cfg pt >pt.cfg
for n in cp cr cd pt; do ok "create $n" vmkit create $n.cfg; done
for n in cp cr cd pt; do ok "$n reaches VMKIT-READY" wait_log $n VMKIT-READY; done
[ -d "$T/run/pt" ] || { vm_finish; exit; }

# Interactive console first, while the machine is least busy.
o=$(python3 "$TOP/tests/tools/ptyconsole.py" "$VMKIT" pt tok$$ 2>&1)
has "pty console: the guest answers" "$o" "ANSWER"
has "pty console: raw mode during the session" "$o" "RAW"
has "pty console: Ctrl-] leaves, exit 0" "$o" "LEFT"
has "pty console: terminal modes restored" "$o" "RESTORED"
eq "pt still running after the console left" "$(state pt | sed 's/blocked/running/')" running
ok "QEMU's console log has the pty session's answer" in_log pt "tok$$-42"
eq "QMP: pt is running" "$(qstatus pt)" running

# Concurrent commands on one VM: each waits for the VM's lock; all succeed.
rm -f conc.fail
for i in 1 2 3 4 5; do
    ( vmkit pause pt && vmkit list -l pt >/dev/null && vmkit unpause pt ) >conc.$i 2>&1 || echo $i >>conc.fail &
done
wait
ok "5 concurrent pause/list/unpause sequences all succeed" test ! -e conc.fail
eq "pt ends running" "$(state pt | sed 's/blocked/running/')" running
eq "QMP: pt ends running" "$(qstatus pt)" running

# Real kernel panics.
qp=$(qemu_pid cp)
panic cp
ok "panic, on_crash preserve: listed as crashed" wait_state cp crashed
ok "the guest's kernel panicked (QEMU's console log)" in_log cp "Kernel panic"
# on_crash preserve: QEMU is stopped in guest-panicked, not ended (pvpanic
# with -action panic=pause), so the same process is still there to inspect.
ok "/proc: cp's QEMU $qp is kept" proc_runs "$qp" "$T/run/cp/"
has "monitor saw GUEST_PANICKED" "$(cat "$T/monitor.log")" "event GUEST_PANICKED"
eq "cp's QEMU is kept (stopped in guest-panicked)" "$(pgrep -f "qemu-system.*$T/run/cp/" | wc -l)" 1
for v in console pause unpause shutdown reboot; do
    fails_with "$v of the crashed cp: not running" 1 "cp: VM is not running (state crashed)" \
        sh -c "echo | '$VMKIT' $v cp"
done
has "config of the crashed cp still works" "$(vmkit config cp)" 'name = "cp"'
ok "destroy the crashed cp" vmkit destroy cp
ok "cp's runtime dir removed" test ! -e "$T/run/cp"

qp=$(qemu_pid cr)
panic cr
ok "panic, on_crash restart: the guest boots again" wait_log cr VMKIT-READY 2
ok "/proc: the panicked QEMU $qp is gone" proc_gone "$qp"
ok "/proc: a new QEMU runs cr" proc_runs "$(qemu_pid cr)" "$T/run/cr/"
eq "QMP: it is running" "$(qstatus cr)" running
has "the console log kept the panic" "$(cat "$T/run/cr/console.log")" "Kernel panic"
eq "cr runs again" "$(state cr | sed 's/blocked/running/')" running

qp=$(qemu_pid cd)
exec 7<"$T/run/cd/console.log"    # readable after the runtime dir goes
panic cd
ok "panic, on_crash destroy: runtime dir goes away" wait_gone cd
has "the guest's kernel panicked (QEMU's console log)" "$(cat <&7)" "Kernel panic"; exec 7<&-
ok "/proc: cd's QEMU $qp is gone" proc_gone "$qp"
eq "cd not listed" "$(state cd)" none

# A guest that resets forever: the monitor gives up, preserved as crashed.
guest_cfg loop 'memory = 32' 'on_reboot = "restart"' >loop.cfg
ok "create loop (32 MiB: resets at once)" vmkit create loop.cfg
ok "restart loop: preserved as crashed" wait_state loop crashed 60
[ "$(state loop)" = crashed ] ||     # show the monitor's end of the story
    sed -n '/monitor for loop/,$p' "$T/monitor.log" | tail -12 | sed 's/^/#   /'
has "monitor gave up restarting" "$(cat "$T/monitor.log")" "giving up"
eq "no QEMU of loop left" "$(pgrep -f "$T/run/loop/" | wc -l)" 0
ok "destroy loop" vmkit destroy loop

# Pid reuse: kill cr's monitor and QEMU without giving anyone a chance to
# clean up, then let its pidfiles name live processes that are not ours.
mon=$(cut -d' ' -f1 "$T/run/cr/monitor.pid")
qp=$(cat "$T/run/cr/pid")
kill -STOP "$mon"; kill -9 "$qp"; kill -9 "$mon"
sleep 60 & s1=$!
sleep 60 & s2=$!
echo "$s1 12345" >"$T/run/cr/monitor.pid"     # right pid, wrong start time
echo "$s2" >"$T/run/cr/pid"                   # lacks cr's uuid in its cmdline
eq "pid reuse: cr not listed as a ghost" "$(state cr)" none
ok "pid reuse: its stale runtime dir was removed" test ! -e "$T/run/cr"
fails_with "pid reuse: destroy cr says no such VM" 1 "cr: no such VM" vmkit destroy cr
ok "pid reuse: the unrelated processes were not touched" kill -0 $s1 $s2
kill $s1 $s2 2>/dev/null; wait $s1 $s2 2>/dev/null

qp=$(qemu_pid pt)
ok "destroy pt" vmkit destroy pt
ok "/proc: pt's QEMU $qp is gone" proc_gone "$qp"
eq "list empty at the end" "$(vmkit list --json)" "[]"
no_qemu_left "nothing of this test runs"
vm_finish
