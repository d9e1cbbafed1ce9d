#!/bin/bash
# Disks made bootable by `vmkit boot install-grub` boot with QEMU's BIOS
# (SeaBIOS) and GRUB alone: no -kernel, no pygrub.  The test guest's kernel
# and initramfs (tests/fixtures/testguest.sh) go into /boot of the disk;
# GRUB's menu must appear on the serial console and the guest must print
# VMKIT-READY.  Four disks, booted at once:
#   mbr    raw, MBR, ext4               plain qemu-system-x86_64 -drive format=raw
#   gpt    qcow2, GPT + BIOS boot part. vmkit create, boot = "c", no kernel/bootloader
#   legacy raw 3950M, --legacy-chs:     plain QEMU; the core image in 62 sectors
#          first partition at 63
#   fat    qcow2, MBR, FAT32            plain qemu-system-x86_64 -drive format=qcow2
# no_timer_check: under a heavy host load TCG can miss the IO-APIC timer
# check's ticks and the kernel panics before /init.
# The sanitizer run boots two of them (gpt, legacy): the boots test QEMU
# and GRUB; vmkit's own part (install-grub) runs under ASan in every case.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/grub_lib.sh"
. "$(dirname "$0")/vm_lib.sh"      # cd's into $T: last
need_grub

pids=""
boot_cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    vm_cleanup
}
trap boot_cleanup EXIT

K=$G/vmlinuz I=$G/initrd.gz
ok "mbr: raw MBR ext4 disk with the test kernel" mkgrubdisk mbr.img raw mbr ext4 "$K" "$I"
ok "gpt: qcow2 GPT disk with a BIOS boot partition" mkgrubdisk gpt.qcow2 qcow2 gpt ext4 "$K" "$I"
ok "fat: qcow2 MBR FAT32 disk" mkgrubdisk fat.qcow2 qcow2 mbr vfat "$K" "$I"
ok "legacy: 3950M disk, --legacy-chs, ext4 at sector 63" sh -c "
    \"$VMKIT\" img create legacy.img 3950M >/dev/null && \"$VMKIT\" part init legacy.img mbr --legacy-chs &&
    \"$VMKIT\" part add legacy.img >/dev/null && \"$VMKIT\" fs mkfs -t ext4 legacy.img:1 >/dev/null &&
    \"$VMKIT\" fs mkdir -p legacy.img:1:/boot && \"$VMKIT\" fs put $K legacy.img:1:/boot/vmlinuz-6.1-test &&
    \"$VMKIT\" fs put $I legacy.img:1:/boot/initrd.img-6.1-test"
for d in mbr.img gpt.qcow2 fat.qcow2 legacy.img; do
    ok "install-grub $d" vmkit boot install-grub --timeout 1 --append "panic=-1 quiet no_timer_check" "$d"
done
ok "qemu-img check gpt.qcow2" qemu-img check -q gpt.qcow2
ok "qemu-img check fat.qcow2" qemu-img check -q fat.qcow2

# start NAME FILE FORMAT: plain QEMU, serial console into $T/NAME.log
start() {
    qemu-system-x86_64 -m 128 -nodefaults -display none -no-reboot \
        -serial "file:$T/$1.log" -drive "file=$T/$2,format=$3" >"$T/$1.qemu" 2>&1 &
    pids="$pids $!"
}
# wait_for LOG TEXT: poll until TEXT is in LOG (deadline shared by all boots)
DEADLINE=$(( $(date +%s) + 600 ))
wait_for() {
    while :; do
        grep -aqF -- "$2" "$1" 2>/dev/null && return 0
        [ "$(date +%s)" -le $DEADLINE ] || return 1
        sleep 0.5
    done
}

all="mbr gpt legacy fat"
[ "$(pick 4 2 4)" = 2 ] && all="gpt legacy"
for b in $all; do
    case $b in
    mbr) start mbr mbr.img raw ;;
    legacy) start legacy legacy.img raw ;;
    fat) start fat fat.qcow2 qcow2 ;;
    gpt) boot_c_cfg grubgpt 128 "$T/gpt.qcow2" >gpt.cfg
         ok "gpt: vmkit create (boot = \"c\", no kernel, no bootloader)" vmkit create gpt.cfg ;;
    esac
done
for b in $all; do
    log=$T/$b.log
    [ $b = gpt ] && log=$T/run/grubgpt/console.log
    ok "$b: GRUB's menu on the serial console" wait_for "$log" "GNU GRUB  version"
    ok "$b: the menu entry for the kernel in /boot" wait_for "$log" "Booting \`Linux 6.1-test'"
    if wait_for "$log" VMKIT-READY; then r=0; else r=1; tail -c 2000 "$log" | tr -d '\033' | tail -15 >"$T/.out"; fi
    [ $r = 0 ] && _report 0 "$b: the guest reaches VMKIT-READY" || _report 1 "$b: the guest reaches VMKIT-READY" "$T/.out"
done
case " $all " in *" gpt "*) ok "gpt: destroy" vmkit destroy grubgpt ;; esac
for p in $pids; do kill "$p" 2>/dev/null; done
pids=""
vm_finish
