#!/bin/bash
# vmkit snapshot NAME create|list|revert|delete SNAP.  A stopped VM gets
# disk-only snapshots, a running one disk and machine state through QEMU's
# snapshot jobs: the guest writes its disk after a snapshot, revert brings
# back the old bytes (the guest reads them) and its per-second counter
# goes on from the snapshot's moment.  Every snapshot is checked with
# qemu-img (snapshot -l, check, the disk's bytes), and one qemu-img makes
# is listed and applied by vmkit.  Refused: a raw disk (stopped and
# running), an existing tag, an unknown tag or VM, a bad verb (usage).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"
need qemu-img || { finish; exit; }

tags() { qemu-img snapshot -U -l "$1" | awk 'NR > 2 {print $2}' | tr '\n' ' '; }
head_of() {  # IMAGE N: its first N bytes (through qemu-img)
    qemu-img convert -U -O raw "$1" "$T/head.raw" && head -c "$2" "$T/head.raw"; rm -f "$T/head.raw"
}
maxcount() { sed -n 's/.*VMKIT-COUNT \([0-9]*\).*/\1/p' "run/$1/console.log" | tail -1; }

printf 'BEFORE-SNAP' >m.raw && truncate -s 16M m.raw
ok "qemu-img convert the marked disk to d.qcow2" qemu-img convert -f raw -O qcow2 m.raw d.qcow2
guest_cfg sn "disk = ['format=qcow2,vdev=xvda,target=$T/d.qcow2']" >sn.cfg
ok "define sn" vmkit define sn.cfg 'extra="console=ttyS0 panic=-1 quiet vmkit.counter"'

# stopped: disk only, interchangeable with qemu-img
ok "stopped: snapshot create disk1" vmkit snapshot sn create disk1
eq "qemu-img snapshot -l: disk1" "$(tags d.qcow2)" "disk1 "
ok "qemu-img check after create" qemu-img check -q d.qcow2
ok "qemu-img snapshot -c qi1" qemu-img snapshot -c qi1 d.qcow2
run_ok l vmkit snapshot sn list
has "vmkit lists disk1" "$l" " disk1 "
has "vmkit lists qemu-img's qi1" "$l" " qi1 "
run_ok j vmkit snapshot sn list --json
eq "--json: the tags, disk-only (no VM state)" "$(echo "$j" | python3 -c 'import json,sys; print(" ".join("%s:%d" % (s["name"], s["vm-state-size"]) for s in json.load(sys.stdin)))')" "disk1:0 qi1:0"
fails_with "create an existing tag" 1 "disk1" vmkit snapshot sn create disk1
fails_with "revert to an unknown tag" 1 "has no snapshot 'nosuch'" vmkit snapshot sn revert nosuch
ok "delete qi1 (made by qemu-img)" vmkit snapshot sn delete qi1
eq "qemu-img: qi1 is gone" "$(tags d.qcow2)" "disk1 "
ok "qemu-img check after delete" qemu-img check -q d.qcow2

# running: disk and machine state
ok "start sn" vmkit start sn
ok "sn counts" wait_log sn 'VMKIT-COUNT 3' 1 90
wait_log sn 'built-in shell' 1 30
ok "running: snapshot create live1" vmkit snapshot sn create live1
at=$(maxcount sn)
eq "QMP: still running after the snapshot" "$(qstatus sn)" running
has "qemu-img snapshot -l: live1 next to disk1" "$(tags d.qcow2)" "disk1 live1"
run_ok j vmkit snapshot sn list --json
ok "live1 holds the machine state" python3 -c 'import json,sys; s=[s for s in json.loads(sys.argv[1]) if s["name"] == "live1"]; sys.exit(not (s and s[0]["vm-state-size"] > 0))' "$j"
has "the guest overwrites its disk" "$(gsh sn 'echo CHANGED-NOW | dd of=/dev/vda conv=fsync 2>/dev/null; dd if=/dev/vda bs=11 count=1 2>/dev/null; echo')" "CHANGED-NOW"
ok "the counter goes on past the snapshot" wait_log sn "VMKIT-COUNT $((at + 3))" 1 60
fails_with "create live1 again" 1 "live1" vmkit snapshot sn create live1
fails_with "revert to an unknown tag (running)" 1 "nosuch" vmkit snapshot sn revert nosuch
before=$(maxcount sn)
ok "running: snapshot revert live1" vmkit snapshot sn revert live1
eq "QMP: running after the revert" "$(qstatus sn)" running
has "the guest reads the old bytes again" "$(gsh sn 'dd if=/dev/vda bs=11 count=1 2>/dev/null; echo')" "BEFORE-SNAP"
ok "the counter goes on from the snapshot" wait_log sn "VMKIT-COUNT $((at + 1))" 2 30
ok "... not from where it was ($before)" test "$(grep -c "VMKIT-COUNT $((before + 1))\$" run/sn/console.log)" -le 1
ok "running: snapshot delete live1" vmkit snapshot sn delete live1
eq "qemu-img: only disk1 left" "$(tags d.qcow2)" "disk1 "
has "the guest writes once more" "$(gsh sn 'echo SECOND-WRT | dd of=/dev/vda conv=fsync 2>/dev/null; echo ok')" ok
ok "destroy sn" vmkit destroy sn
ok "qemu-img check after the running VM" qemu-img check -q d.qcow2
eq "the disk has the guest's last write" "$(head_of d.qcow2 10)" "SECOND-WRT"
ok "stopped: snapshot revert disk1" vmkit snapshot sn revert disk1
eq "qemu-img: the disk is back to before any boot" "$(head_of d.qcow2 11)" "BEFORE-SNAP"
ok "stopped: snapshot delete disk1" vmkit snapshot sn delete disk1
none "qemu-img: no snapshot left" tags d.qcow2
ok "qemu-img check at the end" qemu-img check -q d.qcow2

# refused
truncate -s 8M r.img
guest_cfg rw "disk = ['format=raw,vdev=xvda,target=$T/r.img']" >rw.cfg
ok "define rw (raw disk)" vmkit define rw.cfg
fails_with "stopped raw disk refused" 1 "rw: disk xvda ($T/r.img) is raw: internal snapshots need qcow2" vmkit snapshot rw create x
ok "start rw" vmkit start rw
fails_with "running raw disk refused" 1 "is raw: internal snapshots need qcow2" vmkit snapshot rw create x
ok "destroy rw" vmkit destroy rw
fails_with "unknown VM" 1 "nosuch: no such VM" vmkit snapshot nosuch list
fails_with "bad verb" 2 "frob" vmkit snapshot sn frob x
fails_with "create without SNAP" 2 "needs SNAP" vmkit snapshot sn create
no_qemu_left "no QEMU left"
vm_finish
