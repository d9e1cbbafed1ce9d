#!/bin/bash
# pygrub on disks laid out as distributions lay them out, made with the
# real tools (sfdisk, mke2fs -d, mkfs.fat + mcopy): Fedora's separate /boot
# with grub2/grubenv and BLS entries (loader/entries), Alpine's
# /boot/extlinux.conf, an isolinux.cfg on FAT, Debian's GRUB_DEFAULT=saved
# pointing at a Xen entry; the search order (GRUB2 before extlinux before
# legacy, as Xen's pygrub), the "no configuration" error listing every path
# tried, a warning from inside the sandbox, the output directory created.
# Extracted files compared with cmp to the originals.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

rnd() { head -c "$2" /dev/urandom >"$1"; }

# 1. Fedora: partition 1 (bootable) is /boot, partition 2 the root.
mkdir -p fb/grub2 fb/loader/entries fr/etc
rnd fb/vmlinuz-6.5.12-300.fc39.x86_64 200000
rnd fb/vmlinuz-6.5.6-300.fc39.x86_64 210000
rnd fb/initramfs-6.5.6-300.fc39.x86_64.img 90000
rnd fb/initramfs-6.5.12-300.fc39.x86_64.img 80000
cat >fb/grub2/grub.cfg <<'CFG'
set pager=1
if [ -f ${config_directory}/grubenv ]; then
  load_env -f ${config_directory}/grubenv
elif [ -s $prefix/grubenv ]; then
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="${saved_entry}"
fi
insmod blscfg
blscfg
CFG
printf '# GRUB Environment Block\nsaved_entry=abc-6.5.6-300.fc39.x86_64\nkernelopts=root=UUID=f00d ro rhgb quiet\n' >fb/grub2/grubenv
for v in 6.5.12 6.5.6; do
cat >fb/loader/entries/abc-$v-300.fc39.x86_64.conf <<CFG
title Fedora Linux ($v-300.fc39.x86_64) 39 (Thirty Nine)
version $v-300.fc39.x86_64
linux /vmlinuz-$v-300.fc39.x86_64
initrd /initramfs-$v-300.fc39.x86_64.img
options \$kernelopts console=ttyS0
grub_users \$grub_users
CFG
done
truncate -s 80M fedora.img
printf 'start=2048, size=30M, type=83, bootable\nstart=63488, type=83\n' | sfdisk -q fedora.img >/dev/null
mke2fs -q -F -t ext4 -E offset=1048576 -d fb fedora.img 30M >/dev/null 2>&1
mke2fs -q -F -t ext4 -E offset=$((63488 * 512)) -d fr fedora.img 40M >/dev/null 2>&1
o=$(vmkit guest pygrub fedora.img out/f/nested 2>&1)
has "fedora: grub2 config on the /boot partition" "$o" "fedora.img:1:/grub2/grub.cfg"
has "fedora: saved_entry names the BLS entry" "$o" "title:   Fedora Linux (6.5.6-300.fc39.x86_64) 39 (Thirty Nine)"
has "fedora: \$kernelopts from grubenv" "$o" "cmdline: root=UUID=f00d ro rhgb quiet console=ttyS0"
ok "fedora: the output directory was created" test -d out/f/nested
ok "fedora: kernel (cmp)" cmp out/f/nested/kernel fb/vmlinuz-6.5.6-300.fc39.x86_64
ok "fedora: initrd (cmp)" cmp out/f/nested/initrd fb/initramfs-6.5.6-300.fc39.x86_64.img
ok "fedora: --entry=0 is the newest kernel" vmkit guest pygrub --entry=0 fedora.img out/f0
ok "fedora: newest kernel (cmp)" cmp out/f0/kernel fb/vmlinuz-6.5.12-300.fc39.x86_64
fails_with "fedora: --entry=2 names nothing" 1 "no boot entry '2'" vmkit guest pygrub --entry=2 fedora.img out/f0

# 2. Alpine: a bare ext4, /boot/extlinux.conf with paths relative to /boot.
mkdir -p al/boot
rnd al/boot/vmlinuz-lts 150000; rnd al/boot/initramfs-lts 40000
rnd al/boot/vmlinuz-virt 140000; rnd al/boot/initramfs-virt 30000
cat >al/boot/extlinux.conf <<'CFG'
DEFAULT menu.c32
PROMPT 0
MENU TITLE Alpine/Linux Boot Menu
MENU HIDDEN
TIMEOUT 10
LABEL virt
  MENU LABEL Linux virt
  LINUX vmlinuz-virt
  INITRD initramfs-virt
  APPEND root=UUID=a1 modules=sd-mod,usb-storage,ext4 quiet rootfstype=ext4
LABEL lts
  MENU DEFAULT
  MENU LABEL Linux lts
  LINUX vmlinuz-lts
  INITRD initramfs-lts
  APPEND root=UUID=a1 modules=sd-mod,ext4 quiet
MENU SEPARATOR
CFG
mke2fs -q -F -t ext4 -d al alpine.img 32M >/dev/null 2>&1
o=$(vmkit guest pygrub alpine.img out/a 2>&1)
has "alpine: /boot/extlinux.conf" "$o" "alpine.img:/boot/extlinux.conf"
has "alpine: MENU DEFAULT entry" "$o" "title:   Linux lts"
ok "alpine: kernel relative to /boot (cmp)" cmp out/a/kernel al/boot/vmlinuz-lts
ok "alpine: initrd (cmp)" cmp out/a/initrd al/boot/initramfs-lts

# 3. isolinux on FAT; and the search order: a menu.lst and an isolinux.cfg
#    on one filesystem: isolinux.cfg comes first (Xen's list).
truncate -s 16M iso.img
mkfs.fat -n ISO iso.img >/dev/null
rnd vmlinuz-iso 100000; rnd menu-kernel 5000
printf 'DEFAULT live\nLABEL live\n  KERNEL /boot/isolinux/vmlinuz\n  APPEND boot=live quiet\n' >isolinux.cfg
printf 'default 0\ntitle legacy\nkernel /boot/grub/kernel\n' >menu.lst
mmd -i iso.img ::/boot ::/boot/isolinux ::/boot/grub
mcopy -i iso.img isolinux.cfg ::/boot/isolinux/isolinux.cfg
mcopy -i iso.img vmlinuz-iso ::/boot/isolinux/vmlinuz
mcopy -i iso.img menu.lst ::/boot/grub/menu.lst
mcopy -i iso.img menu-kernel ::/boot/grub/kernel
o=$(vmkit guest pygrub iso.img out/i 2>&1)
has "isolinux.cfg before menu.lst" "$o" "iso.img:/boot/isolinux/isolinux.cfg"
ok "isolinux: kernel (cmp)" cmp out/i/kernel vmlinuz-iso
mcopy -o -i iso.img /dev/null ::/boot/isolinux/isolinux.cfg 2>/dev/null; mdel -i iso.img ::/boot/isolinux/isolinux.cfg
o=$(vmkit guest pygrub iso.img out/i 2>&1)
has "without it, menu.lst" "$o" "iso.img:/boot/grub/menu.lst"

# 4. Debian, GRUB_DEFAULT=saved: a Xen entry is refused by name; a
#    default naming nothing boots entry 0 with a warning from the sandbox.
mkdir -p db/boot/grub
rnd db/boot/vmlinuz-6.1.0-13-amd64 100000; rnd db/boot/xen.gz 9000
cat >db/boot/grub/grub.cfg <<'CFG'
if [ -s $prefix/grubenv ]; then
  load_env
fi
set default="${saved_entry}"
menuentry 'Debian GNU/Linux' --id gnulinux-simple {
	linux /boot/vmlinuz-6.1.0-13-amd64 root=/dev/vda1 ro
}
menuentry 'Debian GNU/Linux, with Xen hypervisor' --id xen-simple {
	multiboot2 /boot/xen.gz placeholder
	module2 /boot/vmlinuz-6.1.0-13-amd64 placeholder root=/dev/vda1 ro
}
CFG
printf '# GRUB Environment Block\nsaved_entry=xen-simple\n' >db/boot/grub/grubenv
mke2fs -q -F -t ext4 -d db deb.img 32M >/dev/null 2>&1
fails_with "debian: saved Xen entry refused by name" 1 \
    "default entry 'Debian GNU/Linux, with Xen hypervisor' boots the Xen hypervisor (/boot/xen.gz), not a Linux kernel" \
    vmkit guest pygrub deb.img out/d
ok "debian: nothing left behind" test ! -e out/d/kernel
printf '# GRUB Environment Block\nsaved_entry=gone\n' >db/boot/grub/grubenv
mke2fs -q -F -t ext4 -d db deb.img 32M >/dev/null 2>&1
vmkit guest pygrub deb.img out/d >out.txt 2>err.txt; st=$?
eq "debian: unknown saved_entry still boots (exit 0)" "$st" 0
has "debian: ... with the sandbox's warning" "$(cat err.txt)" "vmkit: warning: deb.img:/boot/grub/grub.cfg: default 'gone' names no entry"
ok "debian: entry 0's kernel (cmp)" cmp out/d/kernel db/boot/vmlinuz-6.1.0-13-amd64

# 5. No configuration anywhere: every path tried is named.
mkdir -p empty/etc
mke2fs -q -F -t ext4 -d empty none.img 16M >/dev/null 2>&1
o=$(vmkit guest pygrub none.img out/n 2>&1); st=$?
eq "no config: exit 1" "$st" 1
for p in /boot/grub/grub.cfg /grub/grub.cfg /boot/grub2/grub.cfg /grub2/grub.cfg \
         /boot/isolinux/isolinux.cfg /boot/extlinux/extlinux.conf /boot/extlinux.conf \
         /extlinux/extlinux.conf /extlinux.conf /boot/grub/menu.lst /boot/grub/grub.conf \
         /grub/menu.lst /grub/grub.conf; do
    case $o in *" $p"*|*"($p"*) ;; *) echo "# missing $p"; o=BAD ;; esac
done
has "no config: the error lists all 13 paths" "$o" "none.img: no boot configuration found on the bare filesystem (tried /boot/grub/grub.cfg /grub/grub.cfg"
finish
