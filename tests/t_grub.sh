#!/bin/bash
# vmkit boot install-grub, checked without booting (t_grub_boot.sh boots):
# MBR raw ext4, GPT qcow2 with a BIOS boot partition, the blog's 3950M
# legacy-geometry disk (62 sectors of gap), FAT, a separate /boot
# partition.  Oracles: sfdisk --dump and bytes 440-511 unchanged, sector 0
# against GRUB's boot.img and the core's first sector against diskboot.img
# (python), grub-fstest reading grub.cfg and the modules through GRUB's own
# code, e2fsck -fn / fsck.fat -n, qemu-img check, sgdisk -v, blkid for the
# UUID, vmkit's pygrub reading the grub.cfg written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/grub_lib.sh"
cd "$T" || exit 1
need_grub

# 1. MBR, raw, ext4
ok "MBR raw ext4 disk" mkgrubdisk d.img raw mbr ext4
sfdisk --dump d.img >before.dump
tail0=$(tail_of d.img)
ok "install-grub" vmkit boot install-grub --timeout 2 --append "panic=-1 quiet" d.img
sfdisk --dump d.img >after.dump
ok "partition table unchanged (sfdisk --dump)" cmp before.dump after.dump
eq "disk signature, table and 0x55AA unchanged (bytes 440-511)" "$(tail_of d.img)" "$tail0"
bootsec_ok "sector 0 is boot.img pointing at sector 1" d.img 1
j=$(vmkit boot install-grub --json d.img 2>>"$T/stderr")
n=$(jfield "$j" core_sectors)
diskboot_ok "sector 1 is diskboot.img loading sectors 2-$n" d.img 1 "$n"
eq "core image kind with 2047 sectors of room" "$(jfield "$j" core_modules)" full
eq "second run: the existing grub.cfg is kept" "$(jfield "$j" config_kept)" True
eq "second run: core image from the cache" "$(jfield "$j" cache_hit)" True
partof d.img 1 p1
ok "e2fsck -fn clean" e2fsck -fn p1
uuid=$(blkid -o value -s UUID p1)
eq "UUID reported is blkid's" "$(jfield "$j" uuid)" "$uuid"
cfg=$(grub-fstest d.img cat '(loop0,msdos1)/boot/grub/grub.cfg' 2>&1)
eq "grub-fstest reads the same grub.cfg" "$cfg" "$(vmkit fs cat d.img:1:/boot/grub/grub.cfg)"
has "grub.cfg: serial console" "$cfg" "terminal_output serial console"
has "grub.cfg: timeout" "$cfg" "set timeout=2"
has "grub.cfg: finds its filesystem by UUID" "$cfg" "search --no-floppy --fs-uuid --set=root $uuid"
has "grub.cfg: kernel entry with root=UUID and console" "$cfg" \
    "linux /boot/vmlinuz-6.1-test root=UUID=$uuid ro console=ttyS0 panic=-1 quiet"
has "grub.cfg: initrd" "$cfg" "initrd /boot/initrd.img-6.1-test"
mods=$(grub-fstest d.img ls '(loop0,msdos1)/boot/grub/i386-pc' 2>&1)
has "grub-fstest lists normal.mod" "$mods" "normal.mod"
has "grub-fstest lists linux.mod" "$mods" "linux.mod"
ok "normal.mod copied byte for byte (grub-fstest cat)" \
    sh -c "grub-fstest d.img cat '(loop0,msdos1)/boot/grub/i386-pc/normal.mod' | cmp - $GRUBDIR/normal.mod"
mkdir -p out
ok "vmkit's pygrub reads the grub.cfg written" vmkit guest pygrub d.img out
ok "pygrub picks the kernel (cmp)" cmp out/kernel "$T/vmlinuz-fake"
ok "pygrub picks the initrd (cmp)" cmp out/initrd "$T/initrd-fake"

# kept / forced config; the newest kernel first; names GRUB would need to quote skipped
vmkit fs cat d.img:1:/boot/grub/grub.cfg >cfg.before
ok "a second kernel" vmkit fs put "$T/vmlinuz-fake" d.img:1:/boot/vmlinuz-6.10.2-amd64
ok "a name with a quote" vmkit fs put "$T/vmlinuz-fake" "d.img:1:/boot/vmlinuz-6.1'x"
o=$(vmkit boot install-grub d.img 2>&1)
has "says the config was kept" "$o" "kept the existing /boot/grub/grub.cfg (--force-config rewrites it)"
ok "kept byte for byte" sh -c "vmkit() { \"$VMKIT\" \"\$@\"; }; vmkit fs cat d.img:1:/boot/grub/grub.cfg | cmp - cfg.before"
ok "--force-config" vmkit boot install-grub --force-config --timeout -1 d.img
cfg=$(vmkit fs cat d.img:1:/boot/grub/grub.cfg)
eq "entries newest first, the quoted name skipped" \
    "$(echo "$cfg" | sed -n "s/^menuentry '\([^']*\)'.*/\1/p" | tr '\n' ,)" "Linux 6.10.2-amd64,Linux 6.1-test,"
case $cfg in *"set timeout"*) r=1 ;; *) r=0 ;; esac
eq "--timeout -1: no timeout (the menu waits)" "$r" 0
ok "e2fsck -fn clean after three installs" sh -c "dd if=d.img of=p1 bs=512 skip=2048 status=none && e2fsck -fn p1"
ok "partition table still unchanged" sh -c "sfdisk --dump d.img | cmp - before.dump"

# 2. GPT, qcow2, BIOS boot partition
ok "GPT qcow2 ext4 disk with a BIOS boot partition" mkgrubdisk g.qcow2 qcow2 gpt ext4
r=$(rawof g.qcow2); sfdisk --dump "$r" | grep -v '^device' >before.dump; tail0=$(tail_of g.qcow2)
j=$(vmkit boot install-grub --json --timeout 1 g.qcow2 2>>"$T/stderr")
eq "install-grub on GPT (bios_boot_part)" "$(jfield "$j" bios_boot_part)" 1
ok "qemu-img check" qemu-img check -q g.qcow2
r=$(rawof g.qcow2)
ok "GPT unchanged (sfdisk --dump)" sh -c "sfdisk --dump $r | grep -v '^device' | cmp - before.dump"
ok "sgdisk -v: no problems" sh -c "sgdisk -v $r | grep -q 'No problems found'"
eq "protective MBR's bytes 440-511 unchanged" "$(tail_of g.qcow2)" "$tail0"
bootsec_ok "sector 0 points at the BIOS boot partition (2048)" g.qcow2 2048
diskboot_ok "the BIOS boot partition starts with diskboot.img" g.qcow2 2048 "$(jfield "$j" core_sectors)"
cfg=$(grub-fstest "$r" cat '(loop0,gpt2)/boot/grub/grub.cfg' 2>&1)
has "grub-fstest reads grub.cfg on GPT" "$cfg" "insmod part_gpt"
partof g.qcow2 2 p2
ok "e2fsck -fn clean" e2fsck -fn p2

# 3. the blog's 3950M disk, legacy CHS: first partition at 63, 62 sectors of gap
rm -f l.img
ok "3950M legacy-CHS disk" vmkit img create l.img 3950M
ok "part init --legacy-chs" vmkit part init l.img mbr --legacy-chs
ok "part add" vmkit part add l.img
ok "mkfs ext4" vmkit fs mkfs -t ext4 l.img:1
eq "first partition at sector 63" "$(sfdisk -J l.img | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["start"])')" 63
ok "kernel into /boot" sh -c "\"$VMKIT\" fs mkdir -p l.img:1:/boot && \"$VMKIT\" fs put $T/vmlinuz-fake l.img:1:/boot/vmlinuz-6.1-test"
sfdisk --dump l.img >before.dump; tail0=$(tail_of l.img)
dd if=l.img of=sb.before bs=512 skip=63 count=1 status=none
j=$(vmkit boot install-grub --json l.img 2>>"$T/stderr")
n=$(jfield "$j" core_sectors)
[ "$n" -le 62 ] 2>/dev/null; eq "core image fits in 62 sectors ($n)" "$?" 0
eq "a smaller core than on the roomy disk" "$(jfield "$j" core_modules)" standard
ok "partition table unchanged" sh -c "sfdisk --dump l.img | cmp - before.dump"
eq "bytes 440-511 unchanged" "$(tail_of l.img)" "$tail0"
ok "the partition's first sector untouched" \
    sh -c "dd if=l.img bs=512 skip=63 count=1 status=none | cmp - sb.before"
ok "the gap after the core image still zeros (sectors $((n + 1))-62)" \
    sh -c "dd if=l.img bs=512 skip=$((n + 1)) count=$((62 - n)) status=none | cmp - /dev/zero -n $((512 * (62 - n)))"
bootsec_ok "sector 0 points at sector 1" l.img 1
diskboot_ok "diskboot.img in sector 1" l.img 1 "$n"
has "grub-fstest reads grub.cfg" "$(grub-fstest l.img cat '(loop0,msdos1)/boot/grub/grub.cfg' 2>&1)" "vmlinuz-6.1-test"

# 4. FAT (qcow2, MBR)
ok "MBR qcow2 FAT32 disk" mkgrubdisk f.qcow2 qcow2 mbr vfat
ok "install-grub on FAT" vmkit boot install-grub --timeout 1 f.qcow2
ok "qemu-img check" qemu-img check -q f.qcow2
partof f.qcow2 1 pf
ok "fsck.fat -n clean" fsck.fat -n pf
ok "mtools reads grub.cfg" sh -c "mtype -i pf ::/boot/grub/grub.cfg | grep -q 'insmod fat'"
ok "mtools: normal.mod byte for byte" sh -c "mtype -i pf ::/boot/grub/i386-pc/normal.mod | cmp - $GRUBDIR/normal.mod"
u=$(blkid -o value -s UUID pf)
has "grub-fstest reads grub.cfg on FAT; search by blkid's UUID" \
    "$(grub-fstest f.qcow2.raw cat '(loop0,msdos1)/boot/grub/grub.cfg' 2>&1)" "--set=root $u"

# 5. a separate /boot partition (kernels at its root) and a root partition
rm -f s.img
ok "two partitions: /boot (ext2) and / (ext4)" sh -c "
    \"$VMKIT\" img create s.img 64M >/dev/null && \"$VMKIT\" part init s.img mbr &&
    \"$VMKIT\" part add s.img --size 16M >/dev/null && \"$VMKIT\" part add s.img >/dev/null &&
    \"$VMKIT\" fs mkfs -t ext2 s.img:1 >/dev/null && \"$VMKIT\" fs mkfs -t ext4 s.img:2 >/dev/null &&
    \"$VMKIT\" fs put $T/vmlinuz-fake s.img:1:/vmlinuz-6.1-test &&
    \"$VMKIT\" fs put $T/initrd-fake s.img:1:/initrd.img-6.1-test &&
    \"$VMKIT\" fs mkdir -p s.img:2:/etc"
j=$(vmkit boot install-grub --json s.img 2>>"$T/stderr")
eq "GRUB's directory is /grub on the /boot partition" "$(jfield "$j" grub_dir)" /grub
partof s.img 2 ps2
cfg=$(grub-fstest s.img cat '(loop0,msdos1)/grub/grub.cfg' 2>&1)
has "kernel path on the /boot partition, root= the root partition" "$cfg" \
    "linux /vmlinuz-6.1-test root=UUID=$(blkid -o value -s UUID ps2) ro"
mkdir -p out2
ok "pygrub boots it too" vmkit guest pygrub s.img out2
ok "pygrub's kernel (cmp)" cmp out2/kernel "$T/vmlinuz-fake"
# --part names the filesystem
j=$(vmkit boot install-grub --json --part 2 --force-config s.img 2>>"$T/stderr")
eq "--part 2" "$(jfield "$j" part)" 2
eq "--part 2: no /boot there yet: /boot/grub is made" "$(jfield "$j" grub_dir)" /boot/grub
partof s.img 2 ps2
ok "e2fsck -fn clean on partition 2" e2fsck -fn ps2

# 6. the cache: keyed by inputs; --no-cache builds afresh
j=$(vmkit boot install-grub --json --no-cache d.img 2>>"$T/stderr")
eq "--no-cache: grub-mkimage ran" "$(jfield "$j" cache_hit)" False
ls "$T"/cache/vmkit/grub/core-*.img >/dev/null 2>&1; eq "cache under \$XDG_CACHE_HOME/vmkit/grub" "$?" 0
finish
