#!/bin/bash
# One VM's life under `vmkit create`: list (plain, -l, --json parsed by
# python3), the serial console with stdin not a terminal, pause/unpause
# (the guest's /proc/uptime stops while paused), config with a command-line
# override, shutdown -w through the ACPI power button (the guest's busybox
# acpid powers off), and nothing left behind.  The guest is the direct-boot
# test guest (tests/fixtures/testguest.sh) under TCG.  Each claim is also
# asked of QEMU (QMP), the kernel (/proc) or the guest itself (its shell
# on QEMU's console socket; QEMU's console log).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

guest_cfg life 'vif = [ "hostfwd=tcp:127.0.0.1:0-:22" ]' 'vnc = 1' >life.cfg
ok "create life.cfg memory=300" vmkit create life.cfg memory=300
o=$(vmkit list)
has "list: header" "$o" "Name"
has "list: life is running (r flag)" "$(echo "$o" | grep '^life ')" "r-----"
eq "list: memory override shown" "$(echo "$o" | awk '$1 == "life" { print $3 }')" 300

j=$(vmkit list --json)
eq "list --json: parsed, fields" "$(echo "$j" | python3 -c '
import json, sys
v = json.load(sys.stdin)
assert isinstance(v, list) and len(v) == 1
d = v[0]
print(d["name"], d["id"], d["memory"], d["vcpus"], d["state"], type(d["time"]).__name__)')" \
   "life 1 300 1 running float"

o=$(vmkit list -l)
has "list -l: accel tcg (no kvm_intel/kvm_amd here)" "$o" "accel:    tcg"
pid=$(echo "$o" | sed -n 's/^  pid: *\([0-9]*\) .*/\1/p')
has "list -l: pid is our QEMU (uuid in its cmdline)" \
    "$(tr '\0' ' ' </proc/"${pid:-0}"/cmdline 2>/dev/null)" "-uuid"
qp=$(qemu_pid life)
eq "list -l: the pid is the pidfile's" "$pid" "$qp"
ok "/proc: QEMU $qp runs, its command line names life's runtime dir" proc_runs "$qp" "$T/run/life/"
eq "/proc: QEMU's parent is life's monitor" "$(ppid "$qp")" "$(mon_pid life)"
eq "QMP: life is running" "$(qstatus life)" running
eq "QMP: the name is life" "$(qname life)" life
eq "QMP: 300 MiB of base memory (the override)" "$(qmem life)" 300
eq "QMP: 1 vCPU" "$(qcpus life)" 1
has "list -l: console socket" "$o" "$T/run/life/console.sock"
has "list -l: VNC on 127.0.0.1:59xx" "$o" "vnc:      127.0.0.1:59"
vport=$(echo "$o" | sed -n 's/^  vnc: *127\.0\.0\.1:\([0-9]*\).*/\1/p')
v=$(qmp life query-vnc)
has "QMP: VNC listens on 127.0.0.1" "$v" '"host": "127.0.0.1"'
has "QMP: ... on the port list -l shows ($vport)" "$v" "\"service\": \"$vport\""
has "list -l: forwarded port" "$o" "forward:  tcp:127.0.0.1:0-:22"
has "QMP (info usernet): a host port forwarded to the guest's port 22" \
    "$(qmp life human-monitor-command '{"command-line":"info usernet"}' | tr -s ' ')" "10.0.2.15 22 "
jl=$(vmkit list -l --json)
eq "list -l --json: accel, pid, vnc" "$(echo "$jl" | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
print(d["accel"], d["pid"] > 0, d["vnc"].startswith("127.0.0.1:59"), d["forwards"])')" \
   "tcg True True ['tcp:127.0.0.1:0-:22']"
eq "runtime dir is 0700" "$(stat -c %a "$T/run/life")" 700
eq "QMP and console sockets are 0600" \
   "$(stat -c %a "$T/run/life/qmp.sock" "$T/run/life/qmp-cli.sock" "$T/run/life/console.sock" | sort -u)" 600

ok "console log shows VMKIT-READY" wait_log life VMKIT-READY
wait_log life 'built-in shell' 1 20
o=$(printf 'echo hi-$((%d+1))\n' $$ | vmkit console life)
has "console (stdin a pipe): the guest's shell answers" "$o" "hi-$(($$ + 1))"
ok "QEMU's console log has the guest's answer too" in_log life "hi-$(($$ + 1))"
eq "the guest's kernel counts 1 CPU (/proc/cpuinfo)" "$(guest_cpus life)" 1
m=$(guest_mem_mib life)
ok "the guest's kernel has about 300 MiB (MemTotal: ${m:-?} MiB)" test "${m:-0}" -gt 200 -a "${m:-0}" -le 300
ok "console on a terminal (pty): command answered, Ctrl-] leaves" \
    python3 "$TOP/tests/tools/ptyconsole.py" "$VMKIT" life tty
has "... and says so" "$(cat "$T/.out")" "left life's console"
fails_with "console of an unknown VM" 1 "nosuch: no such VM" vmkit console nosuch

# the guest's uptime across a 3 s pause, against the host's clock taken
# after the first read and before the second: a guest clock that ran
# throughout would advance at least as much as the host's; one stopped
# for the pause falls behind it by the pause less the consoles' overheads
u1=$(printf 'cat /proc/uptime\n' | vmkit console life | tr -d '\r' | sed -n 's/^\([0-9.]*\) [0-9.]*$/\1/p' | tail -1)
h1=$(date +%s.%N)
ok "pause" vmkit pause life
eq "list --json: paused" "$(vmkit list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])')" paused
eq "QMP: paused" "$(qstatus life)" paused
has "list: p flag" "$(vmkit list | grep '^life ')" "--p---"
sleep 3
ok "unpause" vmkit unpause life
h2=$(date +%s.%N)
u2=$(printf 'cat /proc/uptime\n' | vmkit console life | tr -d '\r' | sed -n 's/^\([0-9.]*\) [0-9.]*$/\1/p' | tail -1)
eq "QMP: running again" "$(qstatus life)" running
ok "guest time stood still while paused (guest $u1 -> $u2, host +$(echo "$h2 - $h1" | bc 2>/dev/null || echo ?) s)" \
    python3 -c "import sys; d = float('$u2') - float('$u1'); w = float('$h2') - float('$h1'); sys.exit(0 if 0 < d and w - d >= 1.0 else 1)"
one_of "list --json: running (or blocked: idle guest) again" \
    "$(vmkit list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])')" "running blocked"

o=$(vmkit config life)
has "config: the effective memory (override)" "$o" "memory = 300"
has "config: name" "$o" 'name = "life"'
has "config: generated uuid" "$o" "uuid = "
echo "$o" >eff.cfg
# The effective config names life's uuid: a second domain may not take it
# (as xl); without that line it reads back as a config of its own.
fails_with "a copy keeping life's uuid is refused" 1 "already belongs to the running domain 'life'" \
    vmkit define eff.cfg name=lifecopy
grep -v '^uuid' eff.cfg >eff-nouuid.cfg
ok "config output reads back as xl.cfg (define it)" vmkit define eff-nouuid.cfg name=lifecopy

qp=$(qemu_pid life); mp=$(mon_pid life)
exec 7<"$T/run/life/console.log"    # readable after the runtime dir goes
ok "shutdown -w" vmkit shutdown -w life
log=$(cat <&7); exec 7<&-
has "the guest's power-button handler ran (console log)" "$log" VMKIT-POWERBUTTON
has "the guest's kernel powered down (console log)" "$log" "reboot: Power down"
ok "/proc: QEMU $qp is gone" proc_gone "$qp"
ok "/proc: the monitor $mp is gone" proc_gone "$mp"
ok "the guest powered off (monitor saw SHUTDOWN guest-shutdown)" \
    grep -q "event SHUTDOWN guest-shutdown" "$T/monitor.log"
ok "runtime dir gone after shutdown -w" test ! -e "$T/run/life"
eq "list: empty" "$(vmkit list --json)" "[]"
no_qemu_left "no QEMU left"
fails_with "shutdown of a gone VM" 1 "life: no such VM" vmkit shutdown life
vm_finish
