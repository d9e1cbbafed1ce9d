#!/bin/bash
# BIOS boot under `vmkit create`: images that carry their own boot loader.
# A hand-assembled boot sector (tests/fixtures/bootsector.py) prints
# "VMKIT-BIOS-BOOT-OK disk|cdrom" on COM1; it goes on a raw disk, a qcow2
# disk (made by qemu-img convert and checked with qemu-img check) and an
# El Torito ISO (xorriso, the oracle for the CD format).  With both media
# attached, boot="c" must print the disk's line and boot="d" the cdrom's:
# the BIOS boot order really reaches QEMU.  The line is read with
# `vmkit console` and from the console log.  QEMU itself (QMP) confirms
# the paused start and the media; /proc that destroy ends QEMU.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
mkdir -p "$T/run" "$T/etc" && chmod 700 "$T/run" "$T/etc"
FIX=$TOP/tests/fixtures

need qemu-system-x86_64 xorriso || { finish; exit; }

# Stop every VM this test started, whatever happens.
cleanup() {
    for n in bootc bootd bootq bootiso; do "$VMKIT" destroy "$n" >/dev/null 2>&1; done
    rm -rf "$T"
}
trap cleanup EXIT

ok "the disk boot sector is made" python3 "$FIX/bootsector.py" disk bs-disk.img
mkdir -p iso
ok "the cdrom boot image is made" python3 "$FIX/bootsector.py" cdrom iso/boot.img 2048
truncate -s 4M disk.img
ok "the boot sector goes on disk.img" dd if=bs-disk.img of=disk.img conv=notrunc status=none
ok "xorriso makes an El Torito ISO of the boot sector" \
    xorriso -as mkisofs -quiet -o boot.iso -b boot.img -no-emul-boot -boot-load-size 4 iso
o=$(xorriso -indev boot.iso -report_el_torito plain 2>&1)
has "xorriso: the ISO has a no-emulation boot image" "$o" "none"

# qmp NAME CMD...: QEMU's answer over the VM's QMP socket (not vmkit)
qmp() { _q=$1; shift; timeout 30 python3 "$TOP/tests/qmp.py" "$T/run/$_q/qmp-cli.sock" "$@" 2>&1; }
# gone PID: /proc has no such process (or a zombie) within 60 s
gone() {
    for _ in $(seq 600); do
        [ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] || return 0
        sleep 0.1
    done
    return 1
}

# wait_line NAME TEXT: up to 30 s for TEXT in the VM's console log
wait_line() {
    for _ in $(seq 300); do
        grep -qF "$2" "$T/run/$1/console.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

cfg() {  # name boot disk-list
    cat <<CFG
name = "$1"
memory = 32
boot = "$2"
vif = []
vnc = 0
on_poweroff = "destroy"
disk = [ $3 ]
CFG
}

# 1. boot="c" from a raw disk, the cdrom attached too; created paused so
#    `vmkit console` is attached before the boot sector prints
cfg bootc c "'format=raw, vdev=hda, access=rw, target=$T/disk.img', 'file:$T/boot.iso,hdc:cdrom,r'" >c.cfg
ok "create -p boot=c (raw disk + cdrom)" vmkit create c.cfg -p
has "QMP: created paused (not running: QEMU says prelaunch)" "$(qmp bootc query-status)" '"running": false'
q=$(qmp bootc query-block)
has "QMP: the raw disk is attached writable" "$q" "\"file\": \"$T/disk.img\""
has "QMP: the ISO is attached" "$q" "\"file\": \"$T/boot.iso\""
(sleep 5 | "$VMKIT" console --timeout 5 bootc >console.out 2>&1) &
cpid=$!
sleep 1
ok "unpause" vmkit unpause bootc
has "QMP: running" "$(qmp bootc query-status)" '"status": "running"'
qp=$(cat "$T/run/bootc/pid")
ok "boot=c: the disk's boot sector runs" wait_line bootc "VMKIT-BIOS-BOOT-OK disk"
wait $cpid
o=$(cat console.out)
has "boot=c: vmkit console shows the line" "$o" "VMKIT-BIOS-BOOT-OK disk"
case $o in *"BOOT-OK cdrom"*) r=1 ;; *) r=0 ;; esac
eq "boot=c: the cdrom did not boot" "$r" 0
o=$(vmkit list)
has "list shows it running" "$o" "bootc"
ok "destroy" vmkit destroy bootc
ok "/proc: its QEMU $qp is gone" gone "$qp"
[ ! -e "$T/run/bootc" ]; eq "its runtime state is gone" "$?" 0

# 2. boot="d" from the ISO, the disk attached too
cfg bootd d "'format=raw, vdev=hda, access=rw, target=$T/disk.img', 'format=raw, vdev=hdc, devtype=cdrom, access=ro, target=$T/boot.iso'" >d.cfg
ok "create boot=d (ISO on hdc, devtype=cdrom)" vmkit create d.cfg
ok "boot=d: the CD's El Torito image runs" wait_line bootd "VMKIT-BIOS-BOOT-OK cdrom"
o=$(cat "$T/run/bootd/console.log")
case $o in *"BOOT-OK disk"*) r=1 ;; *) r=0 ;; esac
eq "boot=d: the disk did not boot" "$r" 0
has "list -l shows the ISO as a cdrom" "$(vmkit list -l bootd)" "$T/boot.iso cdrom ro"
has "QMP: the ISO is a read-only removable medium" "$(qmp bootd query-block | python3 -c '
import json, sys
for b in json.loads(sys.stdin.readline()):
    i = b.get("inserted")
    if i: print(i["file"], i["ro"], b["removable"])' 2>&1)" "$T/boot.iso True True"
has "config keeps boot = \"d\"" "$(vmkit config bootd)" 'boot = "d"'
ok "destroy" vmkit destroy bootd

# 3. boot="dc": the CD first; "cdrom" flag in the positional form, on SCSI
cfg bootiso dc "'$T/boot.iso,,sda,cdrom', 'format=raw, vdev=sdb, target=$T/disk.img'" >iso.cfg
ok "create boot=dc, SCSI cdrom" vmkit create iso.cfg
ok "boot=dc: the SCSI CD boots" wait_line bootiso "VMKIT-BIOS-BOOT-OK cdrom"
ok "destroy" vmkit destroy bootiso

# 4. the same disk as qcow2 (vmkit's qcow2 driver for conversion; QEMU boots it)
if ok "vmkit img convert -O qcow2" vmkit img convert -O qcow2 disk.img disk.qcow2; then
    ok "qemu-img check on vmkit's qcow2" qemu-img check -q disk.qcow2
    ok "qemu-img compare: same disk" qemu-img compare -q disk.img disk.qcow2
    cfg bootq c "'format=qcow2, vdev=xvda, access=rw, target=$T/disk.qcow2'" >q.cfg
    ok "create boot=c from a qcow2 disk (virtio)" vmkit create q.cfg
    has "QMP: the disk is opened as qcow2" "$(qmp bootq query-block)" '"drv": "qcow2"'
    ok "qcow2 disk boots" wait_line bootq "VMKIT-BIOS-BOOT-OK disk"
    ok "destroy" vmkit destroy bootq
fi

# 5. bad input: clear errors, nothing left running
cfg bootc c "'format=raw, vdev=hda, target=$T/nosuch.img'" >bad.cfg
fails_with "missing disk: clear error" 1 "nosuch.img" vmkit create bad.cfg
[ ! -e "$T/run/bootc" ]; eq "no state left behind" "$?" 0
cfg bootc x "'format=raw, vdev=hda, target=$T/disk.img'" >bad2.cfg
fails_with "boot=x: error naming the key" 1 "boot" vmkit create bad2.cfg
[ ! -e "$T/run/bootc" ]; eq "no state left behind" "$?" 0
o=$(vmkit list --json)
eq "nothing running at the end" "$o" "[]"
finish
