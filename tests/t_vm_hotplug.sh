#!/bin/bash
# Hot-plug over QMP, as xl: block-attach / block-detach / block-list,
# network-attach / network-detach / network-list, mem-set (virtio
# balloon), vcpu-set (maxvcpus > vcpus), --persist into the stored config.
# What vmkit claims is asked of QEMU (query-block, query-named-block-nodes,
# query-balloon, query-cpus-fast), of the guest (its shell: the file on the
# attached disk, /sys/class/net, /sys/devices/system/cpu) and of the image
# tools (qemu-io takes the write lock only when nobody holds it; e2fsck).
# A failed attach (q35: its root bus has no hot-plug, so device_add fails
# after blockdev-add) leaves no block node behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"
need qemu-io e2fsck debugfs || { finish; exit; }

# qnodes NAME: the named block nodes QEMU has (the ones vmkit added)
qnodes() { qmp "$1" query-named-block-nodes | _qjson '" ".join(sorted(n["node-name"] for n in r if not n["node-name"].startswith("#"))) or "no-nodes"'; }
# qballoon NAME: the balloon's idea of the guest's memory, MiB
qballoon() { qmp "$1" query-balloon | _qjson 'r["actual"] >> 20'; }
# until_eq SECS WANT CMD...: poll CMD's output until it is WANT
until_eq() {
    _end=$(( $(date +%s) + $1 )); _w=$2; shift 2
    while [ "$("$@")" != "$_w" ]; do [ "$(date +%s)" -gt $_end ] && return 1; sleep 0.2; done
}
# the guest waits (up to 10 s) for TEST to hold, then runs CMD
gwait() { gsh hp "i=0; while ! $1 && [ \$i -lt 50 ]; do sleep 0.2; i=\$((i+1)); done; $2" 30; }

# The data disk: ext4 made by vmkit, with a known file; debugfs agrees.
tok="hotplug-token-$$"
ok "img create data.img" vmkit img create data.img 16M
ok "fs mkfs ext4 data.img" vmkit fs mkfs -t ext4 data.img
ok_in "fs write the known file" "$tok\n" vmkit fs write data.img:/hello.txt
has "debugfs reads the known file" "$(debugfs -R 'cat /hello.txt' data.img 2>&1)" "$tok"
ok "img create busy.img" vmkit img create busy.img 4M
ok "img create boot.img (a disk of the config: the guest's vda)" vmkit img create boot.img 4M

guest_cfg hp 'memory = 256' 'maxvcpus = 2' "disk = ['$T/boot.img,xvda,w']" >hp.cfg
ok "define hp" vmkit define hp.cfg
ok "start hp" vmkit start hp
ok "hp reaches VMKIT-READY" wait_log hp VMKIT-READY
[ -d "$T/run/hp" ] || { vm_finish; exit; }

# --- disks ---------------------------------------------------------------
ok "block-attach --persist data.img as xvdb" vmkit block-attach --persist hp data.img,xvdb,w
run_ok bl vmkit block-list hp
has "block-list shows xvdb, hot-plugged" "$bl" "xvdb     raw    rw     yes     $T/data.img"
has "QEMU has the image (query-block)" "$(qblock hp)" "$T/data.img ro=False"
eq "QEMU has its block node hp-xvdb" "$(qnodes hp)" "hp-xvdb"
has "vmkit config shows the attached disk" "$(vmkit config hp)" "vdev=xvdb,access=rw,target=$T/data.img"
has "list -l shows it" "$(vmkit list -l hp)" "$T/data.img"
has "--persist: the stored config has it" "$(cat "$T/etc/hp.cfg")" "target=$T/data.img"
has "the guest reads the known file from the new disk" \
    "$(gwait '[ -b /dev/vdb ]' 'mkdir -p /mnt; mount -t ext4 -o ro /dev/vdb /mnt && cat /mnt/hello.txt; umount /mnt')" "$tok"

# bad input: one clear error, nothing added
fails_with "attaching the image again, writable: in use" 1 "image is in use by another process" \
    vmkit block-attach hp data.img,xvdc,w
fails_with "attaching it read-only while the VM writes it: QEMU's lock refuses" 1 "image is in use by another process" \
    vmkit block-attach hp data.img,xvdc,r
mkfifo hold
qemu-io -f raw busy.img <hold >/dev/null 2>&1 & qio=$!
exec 9>hold    # qemu-io waits for commands as long as this stays open
# qemu-io shares write access with other qemu-io, but holds the write lock
# byte (101) a VM's disk device would refuse to share: /proc/locks shows it
writing() { awk -v f="$(stat -c %i busy.img)" '{ n = split($6, a, ":") }
    a[n] == f && $7 <= 101 && $8 >= 101 { print "locked"; exit }' /proc/locks; }
ok "qemu-io holds busy.img open for writing (/proc/locks: byte 101)" until_eq 10 locked writing
fails_with "attaching an image qemu-io has open for writing" 1 "busy.img: image is in use by another process" \
    vmkit block-attach hp busy.img,xvdc,w
exec 9>&-; kill $qio 2>/dev/null; wait $qio 2>/dev/null
fails_with "missing file" 1 "nope.img: No such file or directory" vmkit block-attach hp nope.img,xvdc,w
fails_with "IDE cannot be hot-plugged" 1 "QEMU cannot hot-plug IDE drives" vmkit block-attach hp busy.img,hdb,w
fails_with "cdrom cannot be hot-plugged" 1 "cdrom drives cannot be hot-plugged" vmkit block-attach hp busy.img,hdc:cdrom,r
fails_with "bad spec" 1 "unknown vdev" vmkit block-attach hp busy.img,zzz,w
fails_with "vdev in use" 1 "xvdb is in use" vmkit block-attach hp busy.img,xvdb,w
fails_with "same unit under another name (vdb = xvdb)" 1 "vdb is in use" vmkit block-attach hp busy.img,vdb,w
fails_with "no such VM" 1 "nosuch: no such VM" vmkit block-attach nosuch busy.img,xvdc,w
fails "block-attach without DISKSPEC: usage" 2 vmkit block-attach hp
fails_with "block-detach of a vdev hp lacks" 1 "hp: no disk xvdz" vmkit block-detach hp xvdz
fails_with "save with a hot-plugged disk is refused (its state names PCI slots)" 1 "hp: disk xvdb was hot-plugged" \
    vmkit save hp hp.save
ok "... no save file was made" test ! -e hp.save
eq "... the VM still runs (QMP)" "$(qstatus hp)" running
eq "after the refusals QEMU has only hp-xvdb" "$(qnodes hp)" "hp-xvdb"
run_ok bl vmkit block-list hp
eq "block-list: still two disks" "$(grep -c '^xvd' <<<"$bl")" 2

ok "block-detach --persist xvdb" vmkit block-detach --persist hp xvdb
run_ok bl vmkit block-list hp
eq "block-list no longer shows xvdb" "$(grep -c xvdb <<<"$bl")" 0
eq "QEMU has no block node left" "$(qnodes hp)" "no-nodes"
eq "query-block: the image is gone" "$(qblock hp | grep -c data.img)" 0
eq "the guest no longer sees the disk" "$(gsh hp '[ -b /dev/vdb ] && echo PRESENT || echo ABSENT')" ABSENT
eq "--persist: the stored config no longer has it" "$(grep -c data.img "$T/etc/hp.cfg")" 0
ok "the image's write lock is free again (qemu-io opens it writable)" qemu-io -f raw -c quit data.img
ok "e2fsck -fn: data.img is clean" e2fsck -fn data.img
# a disk of the config (QEMU's own -drive, no id): found by its file
ok "block-detach xvda, a disk the VM started with" vmkit block-detach hp xvda
run_ok bl vmkit block-list hp
eq "block-list: no disk left" "$(grep -c '^xvd' <<<"$bl")" 0
eq "query-block: boot.img is gone" "$(qblock hp | grep -c boot.img)" 0
eq "the guest's vda is gone" "$(gsh hp '[ -b /dev/vda ] && echo PRESENT || echo ABSENT')" ABSENT
has "without --persist the stored config keeps xvda" "$(cat "$T/etc/hp.cfg")" "boot.img"

# --- NICs ------------------------------------------------------------------
mac=00:16:3e:12:34:56
ok "network-attach a virtio NIC" vmkit network-attach hp "mac=$mac"
run_ok nl vmkit network-list hp
has "network-list shows it, hot-plugged" "$nl" "0    $mac virtio-net-pci yes     user"
has "QEMU has the NIC (qom-get mac)" "$(qmp hp qom-get "{\"path\": \"/machine/peripheral/hpnic-00163e123456\", \"property\": \"mac\"}")" "$mac"
has "vmkit config shows the NIC" "$(vmkit config hp)" "mac=$mac"
has "the guest has a new NIC with that MAC (/sys/class/net)" \
    "$(gwait "grep -q $mac /sys/class/net/*/address" 'cat /sys/class/net/*/address')" "$mac"
fails_with "the same MAC again" 1 "a NIC with MAC $mac is attached already" vmkit network-attach hp "mac=$mac"
fails_with "bad vif spec" 1 "mac" vmkit network-attach hp "mac=zz:zz"
fails_with "network-detach of an unknown MAC" 1 "hp: no NIC 00:16:3e:00:00:01" vmkit network-detach hp 00:16:3e:00:00:01
fails_with "network-detach of an unknown index" 1 "hp: no NIC 7" vmkit network-detach hp 7
ok "network-detach by index 0" vmkit network-detach hp 0
run_ok nl vmkit network-list hp
eq "network-list: no NIC left" "$(grep -c 00:16:3e <<<"$nl")" 0
eq "the guest's NIC is gone" "$(gsh hp "grep -c $mac /sys/class/net/*/address")" 0

# --- memory and vCPUs ----------------------------------------------------------
eq "QEMU: the balloon starts at 256 MiB" "$(qballoon hp)" 256
ok "mem-set 160M" vmkit mem-set hp 160M
ok "query-balloon: the guest gave 96 MiB back" until_eq 30 160 qballoon hp
fails_with "mem-set above the VM's memory" 1 "more than the VM's memory (256 MiB)" vmkit mem-set hp 512
fails_with "mem-set too low" 1 "too little" vmkit mem-set hp 8
fails "mem-set 12x: usage" 2 vmkit mem-set hp 12x
ok "mem-set 256 (MiB, as xl)" vmkit mem-set hp 256
ok "query-balloon: back to 256 MiB" until_eq 30 256 qballoon hp

eq "QEMU runs 1 vCPU" "$(qcpus hp)" 1
ok "vcpu-set 2" vmkit vcpu-set hp 2
eq "QEMU runs 2 vCPUs" "$(qcpus hp)" 2
has "list shows 2 vCPUs" "$(vmkit list hp)" "256     2"
eq "the guest's kernel has the new CPU" "$(gwait '[ -e /sys/devices/system/cpu/cpu1 ]' 'ls -d /sys/devices/system/cpu/cpu1')" /sys/devices/system/cpu/cpu1
fails_with "vcpu-set above maxvcpus" 1 "3 vCPUs: give 1 to maxvcpus (2)" vmkit vcpu-set hp 3
fails_with "vcpu-set down under TCG is refused" 1 "runs under TCG" vmkit vcpu-set hp 1
eq "QEMU still runs 2 vCPUs" "$(qcpus hp)" 2
fails "vcpu-set x: usage" 2 vmkit vcpu-set hp x

# --- a restarted QEMU forgets what was plugged into the last one -----------
# (a second boot: the plain and long runs; the sanitizer run samples the
# rest, where vmkit's own code runs)
if [ "$(pick 1 0 1)" = 1 ]; then
    ok "block-attach xvdc (read-only)" vmkit block-attach hp data.img,xvdc,r
    ok "reboot hp" vmkit reboot hp
    ok "hp boots again" wait_log hp VMKIT-READY 2
    run_ok bl vmkit block-list hp
    eq "after the restart block-list has no xvdc" "$(grep -c xvdc <<<"$bl")" 0
    eq "... nor has QEMU" "$(qnodes hp)" "no-nodes"
    ok "the runtime record is gone" test ! -e "$T/run/hp/hotplug"
    has "vmkit config is the started config again" "$(vmkit config hp)" "vcpus = 1"
fi
ok "destroy hp" vmkit destroy hp
fails_with "block-attach to a defined VM that does not run" 1 "hp: VM is not running" \
    vmkit block-attach hp data.img,xvdc,r
ok "--persist on a VM that does not run: the stored config only" \
    vmkit block-attach --persist hp data.img,xvdc,r
has "config of the shut-off hp shows xvdc" "$(vmkit config hp)" "vdev=xvdc,access=ro,target=$T/data.img"
ok "block-detach --persist xvdc of the shut-off hp" vmkit block-detach --persist hp xvdc
eq "its stored config no longer has it" "$(grep -c data.img "$T/etc/hp.cfg")" 0

# --- a failed attach leaves nothing half-added ------------------------------
guest_cfg q 'machine = "q35"' >q.cfg
ok "create q (q35: no hot-plug on its root bus)" vmkit create q.cfg
fails_with "q35: device_add fails" 1 "does not support hotplugging" vmkit block-attach q data.img,xvdb,w
eq "... and the block node blockdev-add made is gone again" "$(qnodes q)" "no-nodes"
run_ok bl vmkit block-list q
eq "... block-list has no xvdb" "$(grep -c xvdb <<<"$bl")" 0
ok "... nor does the runtime record" test ! -e "$T/run/q/hotplug"
ok "... and data.img is not locked" qemu-io -f raw -c quit data.img
fails_with "q35: network-attach fails" 1 "does not support hotplugging" vmkit network-attach q ""
has "... and its netdev is gone again (info network)" \
    "$(qmp q human-monitor-command '{"command-line": "info network"}' | grep -c hpnet)" 0
fails_with "vcpu-set on a VM without maxvcpus" 1 "no room for vCPUs" vmkit vcpu-set q 2
ok "destroy q" vmkit destroy q
fails_with "mem-set on a VM that is gone" 1 "q: no such VM" vmkit mem-set q 100
no_qemu_left "nothing of this test runs"
vm_finish
