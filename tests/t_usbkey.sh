#!/bin/bash
# vmkit guest usbkey: the key checked with the real tools (sfdisk, blkid,
# fsck.fat -n, mtools, grub-fstest, qemu-img), its grub.cfg against the
# ISOs' own menus, and the refusals (exit 1, nothing left behind).
# Booting it is t_usbkey_boot.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/grub_lib.sh"
cd "$T" || exit 1
need_grub
need xorriso sfdisk blkid fsck.fat mdir mcopy mtype grub-fstest qemu-img || { finish; exit; }

head -c 300000 /dev/urandom >vmlinuz; head -c 100000 /dev/urandom >initrd
ok "live ISO (isolinux, INCLUDE chain)" mkiso_live live-a.iso vmlinuz initrd "console=ttyS0"
ok "installer ISO (grub.cfg, --hotkey)" mkiso_inst netinst-b.iso vmlinuz initrd "priority=low"
mkdir sub
ok "an ISO whose name has a space" cp live-a.iso "sub/my live.iso"

ok "guest usbkey with three ISOs" vmkit guest usbkey -q key.img --iso live-a.iso \
    --iso netinst-b.iso --iso "sub/my live.iso" --append "vmkit.x=1"
# the table: one bootable FAT32 (LBA) partition at 1 MiB
run_ok tbl sfdisk -J key.img
eq "sfdisk: one partition" "$(echo "$tbl" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["partitiontable"]["partitions"]))')" 1
eq "sfdisk: type c, bootable, start 2048" "$(echo "$tbl" | python3 -c 'import json,sys; p=json.load(sys.stdin)["partitiontable"]["partitions"][0]; print(p["type"], p.get("bootable"), p["start"])')" "c True 2048"
ok "partition 1 extracted" partof key.img 1 p1.img
eq "blkid: vfat labelled VMKIT-USB" "$(blkid -o export p1.img | grep -E '^(TYPE|LABEL)=' | sort | tr '\n' ' ')" "LABEL=VMKIT-USB TYPE=vfat "
eq "FAT32 (boot sector's type field)" "$(dd if=p1.img bs=1 skip=82 count=8 status=none)" "FAT32   "
ok "fsck.fat -n: clean" fsck.fat -n p1.img
run_ok ls mdir -b -i p1.img ::/isos
eq "mdir /isos: the three ISOs, names made plain" "$(echo "$ls" | sed 's|.*/||' | sort | tr '\n' ' ')" \
    "live-a.iso my_live.iso netinst-b.iso "
ok "mcopy: live-a.iso as given" sh -c "mcopy -n -i p1.img ::/isos/live-a.iso got.iso && cmp got.iso live-a.iso"
ok "mcopy: netinst-b.iso as given" sh -c "mcopy -n -i p1.img ::/isos/netinst-b.iso got.iso && cmp got.iso netinst-b.iso"
ok "grub-fstest (GRUB's FAT driver) reads my_live.iso as given" \
    grub-fstest key.img cmp '(loop0,msdos1)/isos/my_live.iso' "sub/my live.iso"
run_ok cfg mtype -i p1.img ::/boot/grub/grub.cfg
run_ok gcfg grub-fstest key.img cat '(loop0,msdos1)/boot/grub/grub.cfg'
eq "grub-fstest reads the same grub.cfg" "$gcfg" "$cfg"
eq "one menuentry per ISO" "$(echo "$cfg" | grep -c '^menuentry ')" 3
has "live: the ISO's default entry, ^ hotkey mark dropped" "$cfg" "menuentry 'live-a.iso: Live system (amd64)' --id iso-1 {"
has "live: loopback of its file on the key" "$cfg" "	loopback loop /isos/live-a.iso"
has "live: the relative ../live/vmlinuz resolved from /isolinux" "$cfg" "	linux (loop)/live/vmlinuz boot=live components console=ttyS0 findiso=/isos/live-a.iso vmkit.x=1"
has "live: initrd= moved out of APPEND" "$cfg" "	initrd (loop)/live/initrd.img"
has "installer: default (missing gtk initrd) passed over for 'Install'" "$cfg" "menuentry 'netinst-b.iso: Install' --id iso-2 {"
has "installer: iso-scan/filename= before ---" "$cfg" "	linux (loop)/install.amd/vmlinuz vga=788 priority=low iso-scan/filename=/isos/netinst-b.iso --- quiet vmkit.x=1"
has "installer: its initrd" "$cfg" "	initrd (loop)/install.amd/initrd.gz"
has "renamed ISO: its key path in findiso=" "$cfg" "findiso=/isos/my_live.iso"
has "the FAT's UUID searched" "$cfg" "search --no-floppy --fs-uuid --set=root $(blkid -o value -s UUID p1.img)"
has "serial console" "$cfg" "terminal_output serial console"
has "default menu timeout 10 s" "$cfg" "set timeout=10"
bootsec_ok "sector 0 is GRUB's boot.img, core at sector 1" key.img 1
ok "GRUB's modules on the key" sh -c "mdir -b -i p1.img ::/boot/grub/i386-pc | grep -q 'loopback.mod'"
eq "MBR signature kept" "$(od -A n -t x1 -j 510 -N 2 key.img | tr -d ' ')" 55aa

ok "qcow2 key, --size, --timeout" vmkit guest usbkey -q -f qcow2 --size 100M --timeout 3 key.qcow2 --iso netinst-b.iso
ok "qemu-img check" qemu-img check -q key.qcow2
eq "qemu-img: qcow2 of 100M" "$(qemu-img info --output=json key.qcow2 | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["format"], j["virtual-size"])')" "qcow2 104857600"
ok "qcow2 partition" partof key.qcow2 1 q1.img
ok "qcow2: fsck.fat -n clean" fsck.fat -n q1.img
has "qcow2: --timeout 3" "$(mtype -i q1.img ::/boot/grub/grub.cfg)" "set timeout=3"

# ---- refusals: exit 1, the ISO named, nothing left in the directory ----
mkdir bad
mkdir -p nomenu/docs; echo hi >nomenu/docs/README
ok "an ISO without a boot menu" sh -c "xorriso -as mkisofs -quiet -R -o nomenu.iso nomenu 2>/dev/null"
fails_with "no boot menu: refused, named" 1 "nomenu.iso: no boot menu with a Linux entry" \
    vmkit guest usbkey -q bad/k.img --iso live-a.iso --iso nomenu.iso
mkdir -p nok/isolinux; printf 'label x\n kernel /boot/vmlinuz\n append initrd=/boot/initrd\n' >nok/isolinux/isolinux.cfg
ok "an ISO whose menu names a missing kernel" sh -c "xorriso -as mkisofs -quiet -R -o nok.iso nok 2>/dev/null"
fails_with "missing kernel: refused" 1 "nok.iso: no boot menu with a Linux entry whose kernel and initrd are in the ISO" \
    vmkit guest usbkey -q bad/k.img --iso nok.iso
fails_with "not an ISO" 1 "vmlinuz: not a readable ISO 9660 image" vmkit guest usbkey -q bad/k.img --iso vmlinuz
fails_with "missing ISO" 1 "nosuch.iso: No such file" vmkit guest usbkey -q bad/k.img --iso nosuch.iso
fails_with "a directory" 1 "sub: not a regular file" vmkit guest usbkey -q bad/k.img --iso sub
ok "same name twice" cp live-a.iso sub/live-a.iso
fails_with "two ISOs with one name on the key" 1 "both would be /isos/live-a.iso" \
    vmkit guest usbkey -q bad/k.img --iso live-a.iso --iso sub/live-a.iso
fails_with "--size too small" 1 "too small for 1 ISO(s): needs at least" \
    vmkit guest usbkey -q --size 20M bad/k.img --iso live-a.iso
fails_with "--append GRUB would interpret" 1 "characters GRUB's script syntax would interpret" \
    vmkit guest usbkey -q --append 'a;reboot' bad/k.img --iso live-a.iso
mkdir fakebin; printf '#!/bin/sh\necho grub-mkimage: error: broken >&2\nexit 1\n' >fakebin/grub-mkimage; chmod +x fakebin/grub-mkimage
fails_with "grub-mkimage failing: refused" 1 "grub-mkimage" \
    env PATH="$T/fakebin:$PATH" XDG_CACHE_HOME="$T/fresh-cache" "$VMKIT" guest usbkey -q bad/k.img --iso live-a.iso
none "nothing left behind by any refusal (no key, no temporary file)" ls -A bad
cp key.img key.copy
fails_with "OUT exists" 1 "key.img: already exists" vmkit guest usbkey -q key.img --iso live-a.iso
ok "... and is unchanged" cmp key.img key.copy
fails_with "no --iso: usage" 2 "need at least one --iso" vmkit guest usbkey bad/k.img
fails_with "no OUT: usage" 2 "need OUT" vmkit guest usbkey --iso live-a.iso
fails_with "bad --timeout" 2 "--timeout x" vmkit guest usbkey --timeout x bad/k.img --iso live-a.iso
ok "--help" vmkit guest usbkey --help
finish
