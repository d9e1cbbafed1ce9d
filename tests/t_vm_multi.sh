#!/bin/bash
# Several VMs: two at once with different names (each its own QEMU, id,
# console), a duplicate name refused with the running one untouched and
# nothing left behind, persistent domains (define / list of defined /
# start / undefine under VMKIT_CONFIG_DIR), and a pygrub boot of the disk
# `vmkit guest build` makes (its xl.cfg says bootloader = "pygrub").
# Claims are also asked of QEMU (QMP), /proc and the guests themselves.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

ids() { vmkit list --json | python3 -c '
import json, sys
print(" ".join("%s:%d" % (d["name"], d["id"]) for d in json.load(sys.stdin)))'; }

guest_cfg one >one.cfg
ok "create one" vmkit create one.cfg
ok "create two (same config, other name)" vmkit create one.cfg name=two
eq "list: both, ids 1 and 2" "$(ids)" "one:1 two:2"
ok "one reaches VMKIT-READY" wait_log one VMKIT-READY
ok "two reaches VMKIT-READY" wait_log two VMKIT-READY
p1=$(cat run/one/pid); p2=$(cat run/two/pid)
ok "two different QEMUs" test -n "$p1" -a -n "$p2" -a "$p1" != "$p2"
ok "/proc: one's QEMU runs with one's runtime dir" proc_runs "$p1" "$T/run/one/"
ok "/proc: two's QEMU runs with two's runtime dir" proc_runs "$p2" "$T/run/two/"
eq "QMP: one's QEMU is named one" "$(qname one)" one
eq "QMP: two's QEMU is named two" "$(qname two)" two
wait_log one 'built-in shell' 1 20; wait_log two 'built-in shell' 1 20
o1=$(printf 'echo I-am-$((6*7))\n' | vmkit console one)
has "console one answers" "$o1" "I-am-42"
o2=$(printf 'echo me-$((6*8))\n' | vmkit console two)
has "console two answers" "$o2" "me-48"
case $o2 in *I-am-42*) _report 1 "two's console is its own" ;; *) _report 0 "two's console is its own" ;; esac

before=$(ls run/one | sort | tr '\n' ' ')
fails_with "duplicate name refused" 1 "one: a VM of that name is already running" vmkit create one.cfg
eq "the running one is untouched (same files)" "$(ls run/one | sort | tr '\n' ' ')" "$before"
eq "... same QEMU" "$(cat run/one/pid)" "$p1"
ok "/proc: ... still running" proc_runs "$p1" "$T/run/one/"
eq "QMP: ... and running" "$(qstatus one)" running
eq "no third QEMU started" "$(pgrep -f "qemu-system.*$T/run/" | wc -l)" 2
ok "destroy two" vmkit destroy two
ok "/proc: two's QEMU $p2 is gone" proc_gone "$p2"
ok "/proc: one's QEMU still runs" proc_runs "$p1" "$T/run/one/"
eq "list: one left" "$(ids)" "one:1"
ok "create three: takes the free id 2" vmkit create one.cfg name=three
eq "ids reused" "$(ids)" "one:1 three:2"
p3=$(cat run/three/pid)
ok "destroy one" vmkit destroy one
ok "destroy three" vmkit destroy three
ok "/proc: one's and three's QEMUs are gone" sh -c '! [ -d /proc/$0 ] && ! [ -d /proc/$1 ]' "$p1" "$p3"

# persistent domains
guest_cfg pers 'on_poweroff = "destroy"' >pers.cfg
ok "define pers.cfg memory=160" vmkit define pers.cfg memory=160
ok "stored as NAME.cfg, mode 0600" test "$(stat -c %a etc/pers.cfg)" = 600
has "stored config has the override" "$(cat etc/pers.cfg)" "memory = 160"
has "stored config has a uuid" "$(cat etc/pers.cfg)" "uuid = "
fails_with "define twice refused" 1 "pers" vmkit define pers.cfg
has "config pers (not running: the stored one)" "$(vmkit config pers)" "memory = 160"
ok "start pers" vmkit start pers
eq "pers runs with the stored uuid" "$(sed -n 's/^uuid = "\(.*\)"/\1/p' run/pers/config)" \
   "$(sed -n 's/^uuid = "\(.*\)"/\1/p' etc/pers.cfg)"
ok "pers reaches VMKIT-READY" wait_log pers VMKIT-READY
eq "QMP: pers has the stored 160 MiB" "$(qmem pers)" 160
eq "QMP: pers's QEMU has the stored uuid" "$(quuid pers)" "$(sed -n 's/^uuid = "\(.*\)"/\1/p' etc/pers.cfg)"
wait_log pers 'built-in shell' 1 20
m=$(guest_mem_mib pers)
ok "the guest's kernel has about 160 MiB (MemTotal: ${m:-?} MiB)" test "${m:-0}" -gt 100 -a "${m:-0}" -le 160
pp=$(qemu_pid pers)
fails_with "start a running domain refused" 1 "pers: a VM of that name is already running" vmkit start pers
ok "shutdown -w pers" vmkit shutdown -w pers
ok "/proc: pers's QEMU $pp is gone" proc_gone "$pp"
ok "still defined after it stopped" test -f etc/pers.cfg
ok "undefine pers" vmkit undefine pers
ok "config file gone" test ! -e etc/pers.cfg
fails_with "start an undefined domain" 1 "pers" vmkit start pers
fails_with "undefine an unknown domain" 1 "nosuch: no such domain" vmkit undefine nosuch

# pygrub: the disk vmkit guest build makes, with the xl.cfg it writes
if vmkit guest build -q --size 96M g.img >gb.out 2>&1; then
    _report 0 "guest build"
    ok "guest build wrote an xl.cfg with bootloader = pygrub" grep -q 'bootloader *= *"pygrub"' g.img.cfg
    name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' g.img.cfg)
    ok "create g.img.cfg (pygrub)" vmkit create g.img.cfg vnc=0 'vif=[]'
    has "list -l: the disk" "$(vmkit list -l "$name")" "disk:     xvda $T/g.img rw"
    ok "the kernel was copied out of the image into the runtime dir" \
        sh -c "ls '$T/run/$name' | grep -qi -e vmlinuz -e kernel"
    eq "QMP: xvda is g.img, writable" "$(qblock "$name")" "disk0 $T/g.img ro=False"
    ok "/proc: QEMU boots the kernel pygrub copied into the runtime dir" proc_runs "$(qemu_pid "$name")" "-kernel $T/run/$name/"
    ok "the built guest reaches VMKIT-READY through pygrub" wait_log "$name" VMKIT-READY 1 90
    ok "shutdown -w the built guest" vmkit shutdown -w -t 30 "$name"
else
    _report 1 "guest build" gb.out
fi
no_qemu_left "no QEMU left"
vm_finish
