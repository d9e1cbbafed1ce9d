#!/bin/bash
# VMs boot from disks vmkit converted to VDI and VHD: a raw disk with the
# hand-assembled boot sector (tests/fixtures/bootsector.py, which prints
# "VMKIT-BIOS-BOOT-OK disk" on COM1) is converted by vmkit to VDI, dynamic
# VHD and fixed VHD (each checked by qemu-img compare), and `vmkit create`
# boots each with format=vdi / vhd / vpc.  QEMU itself (QMP query-block)
# says which driver opened the file; the console log shows the boot.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
mkdir -p "$T/run" "$T/etc" && chmod 700 "$T/run" "$T/etc"
need qemu-system-x86_64 qemu-img python3 || { finish; exit; }
cleanup() {
    for n in bvdi bvhd bfix; do "$VMKIT" destroy "$n" >/dev/null 2>&1; done
    rm -rf "$T"
}
trap cleanup EXIT
qmp() { _q=$1; shift; timeout 30 python3 "$TOP/tests/qmp.py" "$T/run/$_q/qmp-cli.sock" "$@" 2>&1; }
# wait_line NAME TEXT: up to 60 s for TEXT in the VM's console log
wait_line() {
    for _ in $(seq 600); do
        grep -qF "$2" "$T/run/$1/console.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

ok "the disk boot sector is made" python3 "$TOP/tests/fixtures/bootsector.py" disk bs.img
truncate -s 8M disk.raw
ok "the boot sector goes on disk.raw" dd if=bs.img of=disk.raw conv=notrunc status=none
ok "vmkit converts it to VDI" vmkit img convert -O vdi disk.raw disk.vdi
ok "vmkit converts it to a dynamic VHD" vmkit img convert -O vpc disk.raw disk.vhd
ok "vmkit converts it to a fixed VHD" vmkit img convert -O vpc -o subformat=fixed disk.raw fixed.vhd
for f in disk.vdi disk.vhd; do ok "qemu-img compare: $f" qemu-img compare disk.raw $f; done
ok "qemu-img compare: fixed.vhd" qemu-img compare -F vpc disk.raw fixed.vhd

# boot NAME FILE FORMAT QEMU-DRIVER
boot() {
    cat >$1.cfg <<CFG
name = "$1"
memory = 32
boot = "c"
vif = []
vnc = 0
on_poweroff = "destroy"
disk = [ 'format=$3, vdev=hda, access=rw, target=$T/$2' ]
CFG
    ok "$1: create ($3)" vmkit create $1.cfg
    has "$1: QMP: QEMU opened $2 with its $4 driver" "$(qmp $1 query-block)" "\"drv\": \"$4\""
    ok "$1: the boot sector on the $4 disk runs" wait_line $1 "VMKIT-BIOS-BOOT-OK disk"
    ok "$1: destroy" vmkit destroy $1
}
boot bvdi disk.vdi vdi vdi
boot bvhd disk.vhd vhd vpc
boot bfix fixed.vhd vpc vpc
ok "qemu-img check: the VDI after the guest ran" qemu-img check -q disk.vdi
finish
