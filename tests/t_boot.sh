#!/bin/bash
# pygrub (vmkit guest pygrub) on disk images made with the real tools:
# sfdisk/sgdisk partition tables, mke2fs -d filesystems holding a boot
# config and fake kernels of known content; extracted files compared with
# cmp to the originals.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# fake kernel/initrd files with distinct random content
mkfiles() {  # dir
    mkdir -p "$1"
    head -c 300000 /dev/urandom >"$1/vmlinuz-6.1.0-18-cloud-amd64"
    head -c 120000 /dev/urandom >"$1/initrd.img-6.1.0-18-cloud-amd64"
    head -c 200000 /dev/urandom >"$1/vmlinuz-5.10.0-28-cloud-amd64"
    head -c 50000 /dev/urandom >"$1/initrd.img-5.10.0-28-cloud-amd64"
    head -c 4096 /dev/urandom >"$1/intel-ucode.img"
}

grubcfg() {  # prefix (/boot or "")
    cat <<CFG
if [ -s \$prefix/grubenv ]; then
  load_env
fi
if [ "\${next_entry}" ] ; then
   set default="\${next_entry}"
else
   set default="0"
fi
set kver=6.1.0-18-cloud-amd64
insmod part_msdos
search --no-floppy --fs-uuid --set=root 0c2f5a3e-1111-2222-3333-444455556666
menuentry 'Debian GNU/Linux' --class debian \$menuentry_id_option 'gnulinux-simple' {
	insmod ext2
	if [ x\$feature_platform_search_hint = xy ]; then
	  search --no-floppy --fs-uuid --set=root --hint=hd0,msdos1 0c2f5a3e
	fi
	linux	$1/vmlinuz-\$kver root=/dev/vda1 ro console=ttyS0
	initrd	$1/initrd.img-\${kver}
}
submenu 'Advanced options for Debian GNU/Linux' \$menuentry_id_option 'gnulinux-advanced' {
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-18-cloud-amd64' {
		linux	$1/vmlinuz-6.1.0-18-cloud-amd64 root=/dev/vda1 ro single
		initrd	$1/intel-ucode.img $1/initrd.img-6.1.0-18-cloud-amd64
	}
	menuentry 'Debian GNU/Linux, with Linux 5.10.0-28-cloud-amd64' {
		linux	$1/vmlinuz-5.10.0-28-cloud-amd64 root=/dev/vda1 ro old
		initrd	$1/initrd.img-5.10.0-28-cloud-amd64
	}
}
CFG
}

# 1. MBR, one bootable ext4 root partition with /boot/grub/grub.cfg
mkdir -p root/boot/grub root/etc
mkfiles root/boot
grubcfg /boot >root/boot/grub/grub.cfg
echo "root:x:0:0" >root/etc/passwd
truncate -s 64M mbr.img
echo 'start=2048, type=83, bootable' | sfdisk -q mbr.img >/dev/null
mke2fs -q -F -t ext4 -E offset=1048576 -d root mbr.img 63M >/dev/null 2>&1
mkdir -p out1 out2 out3 out4 out5 out6 out7 out8
ok "pygrub on an MBR disk" vmkit guest pygrub mbr.img out1
ok "default kernel extracted (cmp)" cmp out1/kernel root/boot/vmlinuz-6.1.0-18-cloud-amd64
ok "default initrd extracted (cmp)" cmp out1/initrd root/boot/initrd.img-6.1.0-18-cloud-amd64
o=$(vmkit guest pygrub mbr.img out1)
has "cmdline printed" "$o" "cmdline: root=/dev/vda1 ro console=ttyS0"
has "title printed" "$o" "title:   Debian GNU/Linux"
has "config named" "$o" "mbr.img:1:/boot/grub/grub.cfg"
ok "--entry=1>1 picks the submenu entry" vmkit guest pygrub --entry='1>1' mbr.img out2
ok "submenu kernel (cmp)" cmp out2/kernel root/boot/vmlinuz-5.10.0-28-cloud-amd64
ok "submenu initrd (cmp)" cmp out2/initrd root/boot/initrd.img-5.10.0-28-cloud-amd64
ok "--entry=1>0: two initrds" vmkit guest pygrub --entry='1>0' mbr.img out3
cat root/boot/intel-ucode.img root/boot/initrd.img-6.1.0-18-cloud-amd64 >both
ok "two initrds concatenated in order (cmp)" cmp out3/initrd both
ok "--entry=TITLE" vmkit guest pygrub --entry='Debian GNU/Linux, with Linux 5.10.0-28-cloud-amd64' mbr.img out4
ok "by title (cmp)" cmp out4/kernel root/boot/vmlinuz-5.10.0-28-cloud-amd64
fails_with "--entry=9: clear error" 1 "no boot entry '9'" vmkit guest pygrub --entry=9 mbr.img out4
j=$(vmkit guest pygrub --json mbr.img out4)
has "--json" "$j" '"cmdline": "root=/dev/vda1 ro console=ttyS0"'
qemu-img convert -O qcow2 mbr.img mbr.qcow2
if vmkit img info mbr.qcow2 >/dev/null 2>&1 && vmkit guest pygrub mbr.qcow2 out5 >/dev/null 2>&1; then
    ok "qcow2: kernel (cmp)" cmp out5/kernel root/boot/vmlinuz-6.1.0-18-cloud-amd64
else
    skip "pygrub on qcow2" "qcow2 driver not in this tree yet"
fi

# 2. separate /boot partition (2nd, bootable) + root partition (1st):
#    kernel paths relative to the /boot filesystem
mkdir -p bootp/grub rootp/etc
mkfiles bootp
grubcfg "" >bootp/grub/grub.cfg
truncate -s 80M sep.img
printf 'start=2048, size=40M, type=83\nstart=83968, type=83, bootable\n' | sfdisk -q sep.img >/dev/null
mke2fs -q -F -t ext4 -E offset=1048576 -d rootp sep.img 40M >/dev/null 2>&1
mke2fs -q -F -t ext2 -E offset=$((83968 * 512)) -d bootp sep.img 30M >/dev/null 2>&1
o=$(vmkit guest pygrub sep.img out6 2>&1)
has "separate /boot: config on partition 2" "$o" "sep.img:2:/grub/grub.cfg"
ok "separate /boot: kernel (cmp)" cmp out6/kernel bootp/vmlinuz-6.1.0-18-cloud-amd64
ok "separate /boot: initrd (cmp)" cmp out6/initrd bootp/initrd.img-6.1.0-18-cloud-amd64

# 3. GPT, root on partition 2 (partition 1 a BIOS boot partition)
truncate -s 64M gpt.img
sgdisk -n 1:2048:+1M -t 1:ef02 -n 2:0:0 -t 2:8300 gpt.img >/dev/null
start2=$(sgdisk -i 2 gpt.img | awk '/First sector/ {print $3}')
mke2fs -q -F -t ext4 -E offset=$((start2 * 512)) -d root gpt.img 50M >/dev/null 2>&1
o=$(vmkit guest pygrub gpt.img out7 2>&1)
has "GPT: config on partition 2" "$o" "gpt.img:2:/boot/grub/grub.cfg"
ok "GPT: kernel (cmp)" cmp out7/kernel root/boot/vmlinuz-6.1.0-18-cloud-amd64

# 4. bare filesystem, no partition table; GRUB legacy menu.lst
mkdir -p bare/boot/grub
mkfiles bare/boot
cat >bare/boot/grub/menu.lst <<'CFG'
default 1
timeout 5
title Debian old
	root (hd0,0)
	kernel /boot/vmlinuz-5.10.0-28-cloud-amd64 ro root=/dev/xvda1
	initrd /boot/initrd.img-5.10.0-28-cloud-amd64
title Debian new
	root (hd0,0)
	kernel /boot/vmlinuz-6.1.0-18-cloud-amd64 ro root=/dev/xvda1 console=hvc0
	initrd /boot/initrd.img-6.1.0-18-cloud-amd64
CFG
mke2fs -q -F -t ext3 -d bare bare.img 32M >/dev/null 2>&1
o=$(vmkit guest pygrub bare.img out8 2>&1)
has "bare filesystem, menu.lst" "$o" "bare.img:/boot/grub/menu.lst"
has "menu.lst default 1 args" "$o" "cmdline: ro root=/dev/xvda1 console=hvc0"
ok "menu.lst: kernel (cmp)" cmp out8/kernel bare/boot/vmlinuz-6.1.0-18-cloud-amd64
ok "menu.lst --entry=0" vmkit guest pygrub --entry=0 bare.img out8
ok "menu.lst entry 0 initrd (cmp)" cmp out8/initrd bare/boot/initrd.img-5.10.0-28-cloud-amd64

# 5. extlinux, relative kernel path and initrd= inside APPEND
mkdir -p ext/boot/extlinux
mkfiles ext/boot
cat >ext/boot/extlinux/extlinux.conf <<'CFG'
DEFAULT virt
LABEL rescue
  KERNEL /vmlinuz.old
LABEL virt
  MENU LABEL Alpine virt
  LINUX ../vmlinuz-6.1.0-18-cloud-amd64
  APPEND initrd=/boot/initrd.img-6.1.0-18-cloud-amd64 root=/dev/vda modules=ext4 quiet
CFG
ln -s boot/vmlinuz-5.10.0-28-cloud-amd64 ext/vmlinuz.old
mke2fs -q -F -t ext4 -d ext ext.img 32M >/dev/null 2>&1
mkdir -p out9
o=$(vmkit guest pygrub ext.img out9 2>&1)
has "extlinux: title" "$o" "title:   Alpine virt"
has "extlinux: initrd= removed from cmdline" "$o" "cmdline: root=/dev/vda modules=ext4 quiet"
ok "extlinux: kernel relative to the config dir (cmp)" cmp out9/kernel ext/boot/vmlinuz-6.1.0-18-cloud-amd64
ok "extlinux: initrd (cmp)" cmp out9/initrd ext/boot/initrd.img-6.1.0-18-cloud-amd64
ok "extlinux --entry=rescue" vmkit guest pygrub --entry=rescue ext.img out9
ok "kernel through a symlink (cmp)" cmp out9/kernel ext/boot/vmlinuz-5.10.0-28-cloud-amd64

# 6. a kernel path escaping the filesystem stays inside it; missing kernel
mkdir -p esc/boot/grub out10
printf 'menuentry x {\n linux /boot/../../../../etc/passwd root=/dev/vda1\n}\n' >esc/boot/grub/grub.cfg
mkdir -p esc/etc && echo "guest passwd, not the host's" >esc/etc/passwd
mke2fs -q -F -t ext4 -d esc esc.img 16M >/dev/null 2>&1
ok "../.. clamps at the filesystem root" vmkit guest pygrub esc.img out10
ok "the guest's /etc/passwd, not the host's (cmp)" cmp out10/kernel esc/etc/passwd
printf 'menuentry x {\n linux /boot/evil root=/dev/vda1\n}\n' >esc/boot/grub/grub.cfg
ln -s ../../../../../../etc/passwd esc/boot/evil
rm -f esc.img && mke2fs -q -F -t ext4 -d esc esc.img 16M >/dev/null 2>&1
ok "a symlink climbing out with .. is followed inside" vmkit guest pygrub esc.img out10
ok "it reads the guest's /etc/passwd (cmp)" cmp out10/kernel esc/etc/passwd
rm esc/boot/evil
printf 'menuentry x {\n linux /boot/vmlinuz-missing root=/dev/vda1\n}\n' >esc/boot/grub/grub.cfg
rm -f esc.img && mke2fs -q -F -t ext4 -d esc esc.img 16M >/dev/null 2>&1
fails_with "missing kernel: clear error" 1 "esc.img:/boot/vmlinuz-missing: no such file" vmkit guest pygrub esc.img out10

# a sparse 600 MiB "kernel": refused before anything is copied
printf 'menuentry x {\n linux /boot/huge root=/dev/vda1\n}\n' >esc/boot/grub/grub.cfg
truncate -s 600M esc/boot/huge
rm -f esc.img && mke2fs -q -F -t ext4 -d esc esc.img 16M >/dev/null 2>&1
rm -f esc/boot/huge out10/kernel
fails_with "kernel over 512 MiB refused" 1 "esc.img:/boot/huge: too large" vmkit guest pygrub esc.img out10
[ ! -e out10/kernel ]; eq "nothing left in OUTDIR" "$?" 0

# 7. binary config, huge config, no config, no filesystem
head -c 3000 /dev/urandom >esc/boot/grub/grub.cfg
printf '\0' >>esc/boot/grub/grub.cfg
rm -f esc.img && mke2fs -q -F -t ext4 -d esc esc.img 16M >/dev/null 2>&1
fails_with "binary grub.cfg refused" 1 "esc.img:/boot/grub/grub.cfg: binary data" vmkit guest pygrub esc.img out10
head -c 1100000 /dev/zero | tr '\0' '#' >esc/boot/grub/grub.cfg
rm -f esc.img && mke2fs -q -F -t ext4 -d esc esc.img 16M >/dev/null 2>&1
fails_with "huge grub.cfg refused" 1 "too large" vmkit guest pygrub esc.img out10
mkdir -p empty && rm -f e.img && mke2fs -q -F -t ext4 -d empty e.img 8M >/dev/null 2>&1
fails_with "no config: clear error" 1 "e.img: no boot configuration found" vmkit guest pygrub e.img out10
truncate -s 8M z.img
fails_with "no filesystem: clear error" 1 "z.img: no boot configuration found" vmkit guest pygrub z.img out10
fails_with "missing disk" 1 "nosuch.img" vmkit guest pygrub nosuch.img out10
fails "usage error" 2 vmkit guest pygrub mbr.img
finish
