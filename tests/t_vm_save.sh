#!/bin/bash
# vmkit save / restore, as xl save / restore, with the test guest's
# per-second counter as the witness: a restored guest counts on from where
# it was saved (no new boot: no VMKIT-READY in its new console log).
# save -c leaves the VM running, -p paused, --compress writes a smaller
# file that restores too; restore --name runs a second copy under another
# name and uuid.  Refused, with nothing left running: an existing FILE,
# a name already running, a damaged, truncated or foreign file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"

lastcount() { sed -n 's/.*VMKIT-COUNT \([0-9]*\).*/\1/p' "run/$1/console.log" | tail -1; }
firstcount() { sed -n 's/.*VMKIT-COUNT \([0-9]*\).*/\1/p' "run/$1/console.log" | head -1; }
nqemu() { pgrep -f "qemu-system.*$T/run/" | wc -l; }

guest_cfg sv >sv.cfg
ok "create sv (counting)" vmkit create sv.cfg 'extra="console=ttyS0 panic=-1 quiet vmkit.counter"'
ok "sv counts" wait_log sv 'VMKIT-COUNT 3' 1 90
ok "save -c sv ck.sav (checkpoint)" vmkit save -c sv ck.sav
eq "QMP: sv still runs" "$(qstatus sv)" running
ok "... and counts on" wait_log sv "VMKIT-COUNT $(( $(lastcount sv) + 2 ))" 1 30
fails_with "save onto an existing file" 1 "ck.sav: file exists" vmkit save sv ck.sav
eq "QMP: sv still runs after the refusal" "$(qstatus sv)" running
pid=$(qemu_pid sv)
at=$(lastcount sv)
ok "save sv s.sav" vmkit save sv s.sav
ok "/proc: sv's QEMU is gone" proc_gone "$pid"
ok "sv's runtime dir is gone" wait_gone sv
ok "s.sav exists" test -s s.sav

ok "restore s.sav" vmkit restore s.sav
# a stream stored as is is read by QEMU itself from the file (no copy
# through vmkit), which it lets go of once loaded
has "QEMU read the stream from a descriptor of the file" "$(tr '\0' ' ' <run/sv/argv)" "-incoming fd:"
eq "... and holds the file no longer" "$(ls -l /proc/"$(qemu_pid sv)"/fd | grep -c 's\.sav')" 0
eq "QMP: sv runs" "$(qstatus sv)" running
ok "the restored guest counts" wait_log sv 'VMKIT-COUNT' 1 60
f=$(firstcount sv)
ok "it counts on from $at (first count $f), not from 1" test "${f:-0}" -ge "$at" -a "${f:-0}" -le $((at + 10))
ok "it did not boot again (no VMKIT-READY)" sh -c "! grep -q VMKIT-READY run/sv/console.log"
n=$(nqemu)
fails_with "restore onto a running name" 1 "sv: a VM of that name is already running" vmkit restore s.sav
eq "no QEMU started for it" "$(nqemu)" "$n"

# damaged files: refused, nothing running
size=$(stat -c %s s.sav)
cp s.sav bad.sav && printf 'XXXXXXXX' | dd of=bad.sav bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
head -c $((size / 2)) s.sav >short.sav
head -c 65536 /dev/urandom >foreign.sav
for f in bad short foreign; do
    fails "restore --name $f $f.sav refused" 1 vmkit restore --name $f $f.sav
    ok "nothing left of $f" test ! -e run/$f
done
eq "only sv's QEMU runs" "$(nqemu)" "$n"

# the checkpoint under another name, paused
ok "restore -p --name sv2 ck.sav" vmkit restore -p --name sv2 ck.sav
eq "QMP: sv2 is paused" "$(qstatus sv2)" paused
eq "QMP: sv2 is named sv2" "$(qname sv2)" sv2
ok "sv2 has a uuid other than sv's" test "$(quuid sv2)" != "$(quuid sv)"
ok "unpause sv2" vmkit unpause sv2
ok "sv2 counts" wait_log sv2 'VMKIT-COUNT' 1 60
ok "save --compress sv2 z.sav" vmkit save --compress sv2 z.sav
ok "the compressed file is smaller than the plain one" test "$(stat -c %s z.sav)" -lt "$(stat -c %s ck.sav)"
ok "restore z.sav" vmkit restore z.sav
has "a compressed stream is fed through the migration socket" "$(tr '\0' ' ' <run/sv2/argv)" "-incoming defer"
ok "sv2 counts again" wait_log sv2 'VMKIT-COUNT' 1 60
ok "destroy sv" vmkit destroy sv
ok "destroy sv2" vmkit destroy sv2
no_qemu_left "no QEMU left"
vm_finish
