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
ok "qemu-img convert mbr.img to qcow2" qemu-img convert -O qcow2 mbr.img mbr.qcow2
ok "pygrub on qcow2" vmkit guest pygrub mbr.qcow2 out5
ok "qcow2: kernel (cmp)" cmp out5/kernel root/boot/vmlinuz-6.1.0-18-cloud-amd64

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
# 8. CentOS 7 style /boot/grub2/grub.cfg on a separate /boot (partition 1,
#    bootable; root on an LVM-typed partition 2): linux16/initrd16, the
#    default from ${saved_entry} (unset: entry 0), ${root} set by search
mkdir -p c7/grub2 out11
mkfiles c7
cat >c7/grub2/grub.cfg <<'CFG'
#
# DO NOT EDIT THIS FILE
#
# It is automatically generated by grub2-mkconfig using templates
# from /etc/grub.d and settings from /etc/default/grub
#
### BEGIN /etc/grub.d/00_header ###
set pager=1
if [ -s $prefix/grubenv ]; then
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
function load_video {
  insmod all_video
}
terminal_output console
if [ x$feature_timeout_style = xy ] ; then
  set timeout_style=menu
  set timeout=5
else
  set timeout=5
fi
### END /etc/grub.d/00_header ###
### BEGIN /etc/grub.d/10_linux ###
menuentry 'CentOS Linux (6.1.0-18-cloud-amd64) 7 (Core)' --class centos --class gnu-linux --class gnu --class os --unrestricted $menuentry_id_option 'gnulinux-3.10.0-1160.el7.x86_64-advanced-5b7c' {
	load_video
	set gfxpayload=keep
	insmod gzio
	insmod part_msdos
	insmod xfs
	set root='hd0,msdos1'
	if [ x$feature_platform_search_hint = xy ]; then
	  search --no-floppy --fs-uuid --set=root --hint='hd0,msdos1'  0c8f-11
	else
	  search --no-floppy --fs-uuid --set=root 0c8f-11
	fi
	linux16 /vmlinuz-6.1.0-18-cloud-amd64 root=/dev/mapper/centos-root ro crashkernel=auto rd.lvm.lv=centos/root rhgb quiet LANG=en_US.UTF-8
	initrd16 /initrd.img-6.1.0-18-cloud-amd64
}
menuentry 'CentOS Linux (0-rescue-f00d) 7 (Core)' --class centos --unrestricted $menuentry_id_option 'gnulinux-0-rescue-f00d-advanced-5b7c' {
	load_video
	insmod gzio
	set root='hd0,msdos1'
	linux16 /vmlinuz-5.10.0-28-cloud-amd64 root=/dev/mapper/centos-root ro crashkernel=auto
	initrd16 /initrd.img-5.10.0-28-cloud-amd64
}
### END /etc/grub.d/10_linux ###
CFG
truncate -s 80M c7.img
printf 'start=2048, size=30M, type=83, bootable\nstart=63488, type=8e\n' | sfdisk -q c7.img >/dev/null
mke2fs -q -F -t ext4 -E offset=1048576 -d c7 c7.img 30M >/dev/null 2>&1
o=$(vmkit guest pygrub c7.img out11 2>&1)
has "CentOS 7: grub2/grub.cfg on the separate /boot" "$o" "c7.img:1:/grub2/grub.cfg"
has "CentOS 7: unset saved_entry falls back to entry 0" "$o" "title:   CentOS Linux (6.1.0-18-cloud-amd64) 7 (Core)"
has "CentOS 7: linux16 arguments" "$o" "cmdline: root=/dev/mapper/centos-root ro crashkernel=auto rd.lvm.lv=centos/root rhgb quiet LANG=en_US.UTF-8"
ok "CentOS 7: kernel via linux16 (cmp)" cmp out11/kernel c7/vmlinuz-6.1.0-18-cloud-amd64
ok "CentOS 7: initrd via initrd16 (cmp)" cmp out11/initrd c7/initrd.img-6.1.0-18-cloud-amd64
ok "CentOS 7: --entry=1 (rescue)" vmkit guest pygrub --entry=1 c7.img out11
ok "CentOS 7: rescue kernel (cmp)" cmp out11/kernel c7/vmlinuz-5.10.0-28-cloud-amd64

# 9. GRUB legacy menu.lst as in Xen's pygrub docs, on a separate /boot
#    (kernel paths relative to the /boot filesystem, grub.conf symlink)
mkdir -p xl/grub out12
mkfiles xl
cat >xl/grub/menu.lst <<'CFG'
# grub.conf generated by anaconda
#
# Note that you do not have to rerun grub after making changes to this file
# NOTICE:  You have a /boot partition.  This means that
#          all kernel and initrd paths are relative to /boot/, eg.
#          root (hd0,0)
#          kernel /vmlinuz-version ro root=/dev/VolGroup00/LogVol00
#          initrd /initrd-version.img
#boot=/dev/xvda
default=0
timeout=5
hiddenmenu
title CentOS (6.1.0-18-cloud-amd64xen)
	root (hd0,0)
	kernel /vmlinuz-6.1.0-18-cloud-amd64 ro root=/dev/VolGroup00/LogVol00 console=xvc0
	initrd /initrd.img-6.1.0-18-cloud-amd64
CFG
ln -s menu.lst xl/grub/grub.conf
truncate -s 80M xl.img
printf 'start=2048, size=30M, type=83, bootable\nstart=63488, type=8e\n' | sfdisk -q xl.img >/dev/null
mke2fs -q -F -t ext3 -E offset=1048576 -d xl xl.img 30M >/dev/null 2>&1
o=$(vmkit guest pygrub xl.img out12 2>&1)
has "Xen-docs menu.lst on a separate /boot" "$o" "xl.img:1:/grub/menu.lst"
has "menu.lst: default=0 with '=' and the title" "$o" "title:   CentOS (6.1.0-18-cloud-amd64xen)"
has "menu.lst: kernel arguments" "$o" "cmdline: ro root=/dev/VolGroup00/LogVol00 console=xvc0"
ok "menu.lst on /boot: kernel (cmp)" cmp out12/kernel xl/vmlinuz-6.1.0-18-cloud-amd64
ok "menu.lst on /boot: initrd (cmp)" cmp out12/initrd xl/initrd.img-6.1.0-18-cloud-amd64

# 10. Ubuntu-style: GPT, grub.cfg whose default is a submenu path "1>1"
mkdir -p ub/boot/grub out13
mkfiles ub/boot
grubcfg /boot | sed 's/set default="0"/set default="1>1"/' >ub/boot/grub/grub.cfg
truncate -s 64M ub.img
sgdisk -n 1:2048:+1M -t 1:ef02 -n 2:0:0 -t 2:8300 ub.img >/dev/null
start2=$(sgdisk -i 2 ub.img | awk '/First sector/ {print $3}')
mke2fs -q -F -t ext4 -E offset=$((start2 * 512)) -d ub ub.img 50M >/dev/null 2>&1
o=$(vmkit guest pygrub ub.img out13 2>&1)
has "default=\"1>1\": the submenu's second entry" "$o" "cmdline: root=/dev/vda1 ro old"
ok "default=\"1>1\": its kernel (cmp)" cmp out13/kernel ub/boot/vmlinuz-5.10.0-28-cloud-amd64

# 11. end to end: a `vmkit guest build` system rearranged with a separate
#     /boot (partition 1, ext2, bootable: kernel, initrd, grub/grub.cfg)
#     and its root on partition 2 (ext4, root=/dev/vda2), made with vmkit
#     part/fs; booted by `vmkit create` through pygrub.
if need qemu-system-x86_64; then
    export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
    mkdir -p -m 700 "$T/run" "$T/etc"
    trap '"$VMKIT" destroy sepboot >/dev/null 2>&1; rm -rf "$T"' EXIT
    ok "guest build" vmkit guest build -q --hostname sepboot g.img
    dd if=g.img of=g1 bs=1M skip=1 status=none
    mkdir -p gr && debugfs -R "rdump / $T/gr" g1 >/dev/null 2>&1
    rm -f g1
    mkdir -p gb && mv gr/boot/* gb/
    rmdir gr/lost+found     # mkfs makes its own
    kver=$(ls gb | sed -n 's/^vmlinuz-//p')
    sed -i 's|/boot/|/|g; s|root=/dev/vda1|root=/dev/vda2|' gb/grub/grub.cfg
    echo "/dev/vda2 / ext4 rw 0 1" >gr/etc/fstab
    ok "separate /boot disk: img create" vmkit img create sb.img 320M
    ok "separate /boot disk: MBR" vmkit part init sb.img mbr
    ok "separate /boot disk: /boot partition" vmkit part add sb.img --size 48M --type linux --bootable
    ok "separate /boot disk: root partition" vmkit part add sb.img --size rest --type linux
    ok "separate /boot disk: mkfs ext2 /boot" vmkit fs mkfs -t ext2 --from gb sb.img:1
    ok "separate /boot disk: mkfs ext4 /" vmkit fs mkfs -t ext4 --from gr sb.img:2
    ok "sfdisk --verify" sfdisk --verify sb.img
    o=$(vmkit guest pygrub sb.img out13 2>&1)
    has "pygrub: the config on the /boot partition" "$o" "sb.img:1:/grub/grub.cfg"
    has "pygrub: root=/dev/vda2" "$o" "root=/dev/vda2"
    cat >sb.cfg <<CFG
name = "sepboot"
memory = 256
bootloader = "pygrub"
disk = [ 'format=raw, vdev=xvda, access=rw, target=$T/sb.img' ]
vif = []
vnc = 0
CFG
    ok "vmkit create (pygrub, separate /boot)" vmkit create sb.cfg
    r=1
    for _ in $(seq 600); do
        grep -q VMKIT-READY "$T/run/sepboot/console.log" 2>/dev/null && { r=0; break; }
        grep -qs 'crashed\|shutdown' "$T/run/sepboot/state" && break
        [ -d "$T/run/sepboot" ] || break
        sleep 0.1
    done
    eq "the guest boots to its readiness line" "$r" 0
    o=$( (printf 'cat /proc/cmdline; grep " / " /proc/mounts; uname -r\n'; sleep 2) |
        "$VMKIT" console --timeout 10 sepboot 2>&1)
    has "booted with root=/dev/vda2" "$o" "root=/dev/vda2 console=ttyS0"
    has "its root is partition 2" "$o" "/dev/vda2 / ext4 rw"
    has "it runs the kernel from /boot" "$o" "$kver"
    ok "shutdown -w" vmkit shutdown -w -t 30 sepboot
    dd if=sb.img of=sb2 bs=1M skip=49 status=none
    ok "root partition clean after shutdown (e2fsck -fn)" e2fsck -fn sb2
    dd if=sb.img of=sb1 bs=1M skip=1 count=48 status=none
    ok "/boot partition clean (e2fsck -fn)" e2fsck -fn sb1
    rm -f sb1 sb2
fi
finish
