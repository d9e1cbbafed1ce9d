#!/bin/sh
# Seeds for fuzz_isomenu: small ISOs (xorriso -no-pad, files of a few
# bytes) with the boot menus guest usbkey reads.  Run from the top of the
# tree; writes fuzz/corpus/fuzz_isomenu/.
set -eu
out=fuzz/corpus/fuzz_isomenu
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mk() { xorriso -as mkisofs -quiet -R -J -no-pad -o "$out/$1.iso" "$tmp/$1" 2>/dev/null; }
t=$tmp/isolinux_include; mkdir -p $t/isolinux $t/live
echo k >$t/live/vmlinuz; echo i >$t/live/initrd.img
printf 'include menu.cfg\ndefault vesamenu.c32\n' >$t/isolinux/isolinux.cfg
printf 'menu include live.cfg Live\ninclude missing.cfg\n' >$t/isolinux/menu.cfg
printf 'label live\n menu label ^Live '"'"'q'"'"' $x {;}\n menu default\n linux ../live/vmlinuz\n append initrd=/live/initrd.img boot=live findiso=${iso_path} components ;reboot {x}\n' >$t/isolinux/live.cfg
mk isolinux_include
t=$tmp/grub_installer; mkdir -p $t/boot/grub $t/install.amd
echo k >$t/install.amd/vmlinuz; echo i >$t/install.amd/initrd.gz
printf "menuentry --hotkey=g 'Graphical install' {\n linux /install.amd/vmlinuz vga=788 --- quiet\n initrd /install.amd/gtk/initrd.gz\n}\nmenuentry --hotkey=i 'Install' {\n linux /install.amd/vmlinuz vga=788 --- quiet\n initrd /install.amd/initrd.gz\n}\n" >$t/boot/grub/grub.cfg
mk grub_installer
t=$tmp/no_menu; mkdir -p $t/docs; echo hello >$t/docs/README
mk no_menu
t=$tmp/include_loop; mkdir -p $t/syslinux; echo k >$t/vmlinuz
printf 'include syslinux.cfg\nlabel a\n kernel /vmlinuz\n' >$t/syslinux/syslinux.cfg
mk include_loop
t=$tmp/archiso; mkdir -p $t/arch/boot/x86_64 $t/boot/grub
echo k >$t/arch/boot/x86_64/vmlinuz-linux; echo i >$t/arch/boot/x86_64/initramfs-linux.img
printf "menuentry 'Arch Linux install medium' {\n linux /arch/boot/x86_64/vmlinuz-linux archisobasedir=arch archisolabel=ARCH_2024\n initrd /arch/boot/x86_64/initramfs-linux.img\n}\n" >$t/boot/grub/grub.cfg
mk archiso
ls -la "$out"
