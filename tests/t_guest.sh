#!/bin/bash
# vmkit guest build: the disk passes sfdisk --verify and e2fsck -fn, holds
# what a Debian-style system needs, and BOOTS under QEMU (TCG) with the
# kernel/initrd that vmkit's pygrub extracts: VMKIT-READY on the serial
# console, `uname -r` answered, ACPI power button powers it off.
# The Debian packages are downloaded on first use (cached in ~/.cache/vmkit).
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

ok "guest build" vmkit guest build -q g.img
[ -f g.img ] || { finish; exit 1; }
ok "sfdisk --verify" sfdisk --verify g.img
run_ok d sfdisk -d g.img
has "one bootable Linux partition at 1 MiB" "$d" "start=        2048, size=      522240, type=83, bootable"
ok "partition 1 copied out" dd if=g.img of=p1 bs=1M skip=1 status=none
ok "e2fsck -fn on the partition" e2fsck -fn p1
has "ext4" "$(blkid -o value -s TYPE p1)" "ext4"
ls=$(debugfs -R "ls -p /boot" p1 2>/dev/null)
kver=$(echo "$ls" | tr '/' '\n' | sed -n 's/^vmlinuz-//p' | head -1)
has "kernel /boot/vmlinuz-VERSION" "$kver" "cloud-amd64"
has "initrd /boot/initrd.img-VERSION" "$ls" "initrd.img-$kver"
has "/sbin/init is busybox" "$(debugfs -R 'stat /sbin/init' p1 2>/dev/null)" 'Fast link dest: "../bin/busybox"'
has "inittab: root shell on ttyS0" "$(debugfs -R 'cat /etc/inittab' p1 2>/dev/null)" "ttyS0::respawn:-/bin/sh"
has "virtio_blk module installed" "$(debugfs -R "ls -p /lib/modules/$kver/kernel/drivers/block" p1 2>/dev/null)" "virtio_blk.ko"
grub=$(debugfs -R 'cat /boot/grub/grub.cfg' p1 2>/dev/null)
has "grub.cfg boots it" "$grub" "linux	/boot/vmlinuz-$kver root=/dev/vda1 console=ttyS0"
case $grub in *panic=*) r=reboots ;; *) r=waits ;; esac
eq "no panic=N: a panic is the monitor's (pvpanic), the kernel does not reboot itself" "$r" waits
cfg=$(cat g.img.cfg)
has "xl.cfg: pygrub" "$cfg" 'bootloader = "pygrub"'
has "xl.cfg: absolute disk path, format raw" "$cfg" "disk = [ 'format=raw, vdev=xvda, access=rw, target=$T/g.img' ]"
has "xl.cfg: name" "$cfg" 'name = "g"'

mkdir k
ok "pygrub extracts the guest's kernel" vmkit guest pygrub g.img k
debugfs -R "dump /boot/vmlinuz-$kver $T/vmlinuz.orig" p1 >/dev/null 2>&1
debugfs -R "dump /boot/initrd.img-$kver $T/initrd.orig" p1 >/dev/null 2>&1
ok "extracted kernel = debugfs dump (cmp)" cmp k/kernel vmlinuz.orig
ok "extracted initrd = debugfs dump (cmp)" cmp k/initrd initrd.orig
has "initramfs is a newc cpio with /init" "$(zcat k/initrd | cpio -t 2>/dev/null)" "init"

# boot it: serial on stdio through a fifo, monitor on a pipe pair
mkfifo ser mon.in mon.out
exec 3<>ser 4<>mon.in 5<>mon.out
timeout 120 qemu-system-x86_64 -accel tcg -m 256 -nographic -no-reboot \
    -kernel k/kernel -initrd k/initrd -append "$(vmkit guest pygrub g.img k | sed -n 's/^cmdline: //p')" \
    -drive file=g.img,if=virtio,format=raw -serial stdio -monitor pipe:mon <&3 >console.log 2>&1 &
qpid=$!
for i in $(seq 1 600); do grep -qs VMKIT-READY console.log && break; sleep 0.1; done
ok "VMKIT-READY on the console within 60 s ($((i / 10)) s)" grep -q VMKIT-READY console.log
echo "uname -r" >&3
for i in $(seq 1 100); do grep -q "^$kver" console.log && break; sleep 0.1; done
ok "uname -r over the console answers $kver" grep -q "^$kver" console.log
echo "echo sum=\$((6*7))" >&3
for i in $(seq 1 100); do grep -q "^sum=42" console.log && break; sleep 0.1; done
ok "a command typed on the console runs" grep -q "^sum=42" console.log
echo "system_powerdown" >&4
for i in $(seq 1 300); do kill -0 $qpid 2>/dev/null || break; sleep 0.1; done
if kill -0 $qpid 2>/dev/null; then kill $qpid; fi
wait $qpid; rc=$?
eq "ACPI power button powers it off (qemu exit status)" "$rc" 0
has "guest went down through poweroff" "$(cat console.log)" "reboot: Power down"
exec 3>&- 4>&- 5>&-
ok "partition 1 copied out after the boot" dd if=g.img of=p1after bs=1M skip=1 status=none
ok "root filesystem clean after the guest powered off (e2fsck -fn)" e2fsck -fn p1after

# qcow2 output
if :; then
    ok "guest build -f qcow2" vmkit guest build -q -f qcow2 --size 128M q.qcow2
    ok "qemu-img check" qemu-img check q.qcow2
    has "qcow2: xl.cfg says format=qcow2" "$(cat q.qcow2.cfg)" "format=qcow2, vdev=xvda"
    ok "qcow2: qemu-img convert to raw" qemu-img convert -O raw q.qcow2 q.raw
    ok "qcow2: sfdisk --verify" sfdisk --verify q.raw
    ok "qcow2: partition 1 copied out" dd if=q.raw of=q1 bs=1M skip=1 status=none
    ok "qcow2: e2fsck -fn" e2fsck -fn q1
fi

# --kernel VMLINUZ: that file becomes /boot/vmlinuz-custom (no modules)
ok "guest build --kernel VMLINUZ" vmkit guest build -q --kernel k/kernel --size 64M c.img
mkdir kc
ok "pygrub on it" vmkit guest pygrub c.img kc
ok "the given kernel is the one booted (cmp)" cmp kc/kernel k/kernel
has "named vmlinuz-custom" "$(vmkit guest pygrub c.img kc)" "cmdline: root=/dev/vda1 console=ttyS0"
dd if=c.img of=c1 bs=1M skip=1 status=none
has "/boot/vmlinuz-custom" "$(debugfs -R 'ls -p /boot' c1 2>/dev/null)" "vmlinuz-custom"
ok "e2fsck -fn" e2fsck -fn c1

# refusals
before=$(md5sum <g.img)
fails_with "existing OUT refused" 1 "g.img: already exists" vmkit guest build -q g.img
eq "existing image untouched" "$(md5sum <g.img)" "$before"
fails_with "missing kernel .deb" 1 "nosuch.deb" vmkit guest build -q --kernel nosuch.deb n.img
[ ! -e n.img ] && [ ! -e n.img.cfg ]; eq "nothing left behind on failure" "$?" 0
fails_with "too small" 1 "too small" vmkit guest build -q --size 1M s.img
fails "bad size" 2 vmkit guest build --size 12Q s.img
fails "no OUT" 2 vmkit guest build
finish
