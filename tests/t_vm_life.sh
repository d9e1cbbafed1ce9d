#!/bin/bash
# A VM's life under `vmkit create`: the direct-boot test guest
# (tests/fixtures/testguest.sh) under TCG.  list (table, --json parsed by
# python3, -l), console both ways with stdin not a terminal, pause (guest
# time stops: /proc/uptime read in the guest), unpause, config with a
# command-line override, shutdown -w (ACPI power button; returns once QEMU
# and the runtime directory are gone: checked with pgrep and ls).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"
cd "$T" || exit 1

cfg life 'vif = [ "type=user,hostfwd=tcp:127.0.0.1:0-:22" ]' 'vnc = 1' >life.cfg
ok "create life.cfg memory=300" vmkit create life.cfg memory=300
ok "the guest prints its readiness line" wait_line life VMKIT-READY
[ -d "$T/run/life" ] || { vm_finish; exit; }   # nothing more can pass
eq "a QEMU process runs for it" "$(qemu_of life | wc -w)" 1
o=$(vmkit list)
has "list: header" "$o" "Name"
has "list: life is there" "$o" "life"
j=$(vmkit list --json)
eq "list --json: fields" "$(echo "$j" | python3 -c '
import json,sys
a=json.load(sys.stdin); v=[x for x in a if x["name"]=="life"][0]
print(v["id"] >= 1, v["memory"], v["vcpus"], v["state"] in ("running","blocked"), isinstance(v["time"], (int,float)))')" \
   "True 300 1 True True"
l=$(vmkit list -l life)
has "list -l: accel tcg" "$l" "tcg"
has "list -l: pid" "$l" "pid:      $(qemu_of life | tr -d ' ')"
has "list -l: console socket" "$l" "$T/run/life/console.sock"
has "list -l: VNC on 127.0.0.1:59xx" "$l" "vnc:      127.0.0.1:59"
has "list -l: port forward" "$l" "tcp:127.0.0.1:0-:22"
eq "list -l --json: accel" "$(vmkit list -l --json life | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["accel"])')" tcg
eq "runtime dir is 0700" "$(stat -c %a "$T/run/life")" 700

eq "console: a command's answer" "$(console_cmd life "echo hi-$$")" "hi-$$"
c=$(vmkit config life)
has "config: effective memory override" "$c" "memory = 300"
has "config: uuid" "$c" "uuid = "
has "config: kernel" "$c" "vmlinuz"

up1=$(console_cmd life "cut -d' ' -f1 /proc/uptime")
ok "pause" vmkit pause life
eq "paused state in --json" "$(vm_state life)" paused
has "paused flag in list" "$(vmkit list life)" "--p---"
sleep 3
ok "unpause" vmkit unpause life
up2=$(console_cmd life "cut -d' ' -f1 /proc/uptime")
ok "guest time stopped while paused (uptime $up1 -> $up2)" \
    python3 -c "import sys; d=float('$up2')-float('$up1'); sys.exit(0 if 0 < d < 1.5 else 1)"
s=$(vm_state life)
ok "running again after unpause ($s)" test "$s" = running -o "$s" = blocked
fails_with "pause of a VM that does not exist" 1 "nosuch: no such VM" vmkit pause nosuch

ok "shutdown -w" vmkit shutdown -w -t 60 life
eq "QEMU is gone when shutdown -w returns" "$(qemu_of life)" ""
ok "runtime dir is gone when shutdown -w returns" test ! -e "$T/run/life"
has "the guest saw the power button" "$(cat "$T/monitor.log")" "POWERDOWN"
eq "list is empty" "$(vmkit list --json)" "[]"

# create -c: console attached at once (stdin not a terminal)
cfg life2 >life2.cfg
( wait_line life2 VMKIT-READY; printf '\necho attached-$((6*7))\n'; sleep 2 ) |
    timeout 60 "$VMKIT" create -c life2.cfg >c.out 2>&1 &
cp=$!
ok "create -c: the console shows the readiness line" wait_line life2 VMKIT-READY
wait $cp
has "create -c: stdin reached the guest" "$(cat c.out)" "attached-42"
ok "destroy" vmkit destroy life2
ok "destroy: runtime dir gone" test ! -e "$T/run/life2"
eq "destroy: QEMU gone" "$(qemu_of life2)" ""
vm_finish
