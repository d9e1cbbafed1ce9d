#!/bin/bash
# vmkit part on GPT: both headers and CRCs (sgdisk -v, sfdisk --verify),
# types, names, attributes, tables written by sgdisk and sfdisk, hybrid
# MBR, damaged primary header, growing the disk and `part fix`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/part_lib.sh"
cd "$T" || exit 1

mkimg g.img 64M
ok "init gpt" vmkit part init g.img gpt
sgdisk_ok "empty GPT passes sgdisk -v" g.img
eq "efi" "$(vmkit part add g.img --size 8M --type efi --name 'EFI system')" 1
eq "bios" "$(vmkit part add g.img --size 1M --type bios)" 2
eq "swap" "$(vmkit part add g.img --size 8M --type swap --name swap)" 3
eq "lvm" "$(vmkit part add g.img --size 8M --type lvm)" 4
eq "any GUID" "$(vmkit part add g.img --size 4M --type 933AC7E1-2EB4-4F13-B844-0E14E2AEF915 --name 'home ünï')" 5
eq "linux rest" "$(vmkit part add g.img --name root)" 6
sgdisk_ok "sgdisk -v accepts vmkit's GPT" g.img
sfdisk_ok "sfdisk --verify accepts vmkit's GPT" g.img
same_dump "sfdisk --dump matches part dump" g.img
same_json "sfdisk --json matches part list --json" g.img
r=$(as_raw g.img)
has "sgdisk sees the BIOS boot type" "$(sgdisk -i 2 "$r")" "21686148-6449-6E6F-744E-656564454649"
has "sgdisk sees the UTF-16 name" "$(sgdisk -i 5 "$r")" "Partition name: 'home ünï'"
u1=$(sgdisk -i 1 "$r" | awk '/unique GUID/ {print $4}')
u3=$(sgdisk -i 3 "$r" | awk '/unique GUID/ {print $4}')
[ -n "$u1" ] && [ "$u1" != "$u3" ]; eq "unique GUIDs differ" $? 0
ok "rename" vmkit part set g.img 6 --name rootfs
ok "retype" vmkit part set g.img 4 --type linux
ok "boot flag on GPT" vmkit part set g.img 4 --bootable on
r=$(as_raw g.img)
eq "is the LegacyBIOSBootable attribute (sgdisk)" "$(sgdisk -A 4:get:2 "$r")" "4:2:1"
ok "boot flag off" vmkit part set g.img 4 --bootable off
r=$(as_raw g.img)
eq "attribute cleared (sgdisk)" "$(sgdisk -A 4:get:2 "$r")" "4:2:0"
ok "delete 3" vmkit part del g.img 3
ok "resize 4 max" vmkit part resize g.img 4 max
sgdisk_ok "after edits, sgdisk -v" g.img
same_dump "after edits, dumps match" g.img
has "renamed" "$(vmkit part list g.img)" "name=rootfs"
fails_with "overlap refused" 1 "inside partition 1 (sectors 2048-18431)" vmkit part add g.img --start 4096 --size 1M
fails_with "past the end refused" 1 "outside the usable sectors 2048-131038" vmkit part add g.img --start 100M --size 1M

# Attributes and names move through sfdisk scripts both ways.
mkimg a.img 32M
r=$(as_raw a.img)
ok "sfdisk writes a GPT with names and attributes" sh -c 'printf '"'"'label: gpt\nsize=4M, type=L, name="boot \\x22x\\x22", attrs="RequiredPartition LegacyBIOSBootable GUID:60"\nsize=4M, type=S\n'"'"' | sfdisk -q "$1"' _ "$r"
[ "$FMT" = qcow2 ] && ok "back to qcow2" qemu-img convert -f raw -O qcow2 "$r" a.img
same_json "sfdisk-written attrs list the same" a.img
same_dump "sfdisk-written attrs dump the same" a.img
mkimg b.img 32M
ok "load sfdisk's dump" sh -c "sfdisk --dump $r | $VMKIT part load b.img"
eq "loaded GPT equals source" "$(vmkit part dump b.img | grep -v device: | sed 's/^b.img//')" "$(sfdisk -d "$r" | grep -v device: | sed "s|^$r||")"
sgdisk_ok "loaded GPT passes sgdisk -v" b.img
truncate -s 32M c.raw
ok "sfdisk loads vmkit's dump" sh -c "$VMKIT part dump b.img | sfdisk -q c.raw"
eq "round trip" "$(sfdisk -d c.raw | grep -v device: | sed 's/^c.raw//')" "$(sfdisk -d "$r" | grep -v device: | sed "s|^$r||")"

# Tables written by sgdisk, and a hybrid MBR (sgdisk -h).
mkimg s.img 64M
r=$(as_raw s.img)
ok "sgdisk writes a GPT" sgdisk -n 1:2048:+8M -t 1:ef00 -c 1:ESP -n 2:0:+16M -t 2:8300 -n 3:0:0 -t 3:8200 "$r"
[ "$FMT" = qcow2 ] && ok "back to qcow2" qemu-img convert -f raw -O qcow2 "$r" s.img
same_json "sgdisk-written GPT lists the same" s.img
ok "sgdisk -h 2 makes a hybrid MBR" sgdisk -h 2 "$r"
[ "$FMT" = qcow2 ] && ok "back to qcow2" qemu-img convert -f raw -O qcow2 "$r" s.img
same_json "hybrid MBR: GPT wins, lists the same" s.img
has "hybrid is read as gpt" "$(vmkit part list s.img)" "Disklabel type: gpt"
r=$(as_raw s.img)
before=$(od -An -tx1 -j446 -N66 "$r")
has "sgdisk made a hybrid (0xEE plus a Linux entry)" "$before" " 83 "
ok "edit on a hybrid disk" vmkit part set s.img 3 --name sw
r=$(as_raw s.img)
eq "hybrid MBR kept as it was" "$(od -An -tx1 -j446 -N66 "$r")" "$before"
sgdisk_ok "hybrid still passes sgdisk -v" s.img

# Damaged primary header: warn, use the backup, repair.
if [ "$FMT" = raw ]; then
    cp g.img h.img
    printf 'XXXX' | dd of=h.img bs=1 seek=$((512 + 92 - 4)) conv=notrunc status=none   # inside header: CRC breaks
    dd if=/dev/zero of=h.img bs=1 seek=$((512 + 16)) count=1 conv=notrunc status=none
    out=$(vmkit part list h.img 2>&1)
    has "falls back to the backup with a warning" "$out" "warning: h.img: primary GPT header damaged"
    has "still lists the partitions" "$out" "name=rootfs"
    fails_with "verify reports it" 1 "primary GPT header damaged" vmkit part verify h.img
    ok "verify --repair" vmkit part verify --repair h.img
    ok "verify is clean after repair" vmkit part verify h.img
    sgdisk_ok "repaired GPT passes sgdisk -v" h.img
    eq "repaired table is the same" "$(vmkit part dump h.img | grep -v device: | sed s/^h.img//)" "$(vmkit part dump g.img | grep -v device: | sed s/^g.img//)"

    # Both copies valid (CRCs right) but different: the backup of a table
    # whose partition 6 has another name.  sgdisk -v calls it a problem.
    cp g.img other.img; sgdisk -c 6:other other.img >/dev/null
    cp g.img d.img
    n=$(( $(stat -c %s g.img) / 512 ))
    dd if=other.img of=d.img bs=512 skip=$((n - 33)) seek=$((n - 33)) count=33 conv=notrunc status=none
    has "sgdisk -v sees a problem in the spliced disk" "$(sgdisk -v d.img 2>&1)" "Identified 1 problems"
    fails_with "verify: copies differ, naming the entry" 1 "the GPT copies differ in partition entry 6" vmkit part verify d.img
    ok "verify --repair" vmkit part verify --repair d.img
    ok "verify clean after repair" vmkit part verify d.img
    sgdisk_ok "sgdisk -v clean after repair" d.img
    has "the primary's name is kept" "$(sgdisk -i 6 d.img)" "Partition name: 'rootfs'"
    cp g.img d.img; cp g.img other.img; sgdisk -U 01234567-89AB-CDEF-0123-456789ABCDEF other.img >/dev/null
    dd if=other.img of=d.img bs=512 skip=$((n - 1)) seek=$((n - 1)) count=1 conv=notrunc status=none
    fails_with "verify: a backup header with another disk GUID" 1 "the GPT copies differ in the disk GUID" vmkit part verify d.img
fi

# Grow the image: backup header must move to the new end.
cp g.img grow.img
ok "vmkit img resize to 128M" vmkit img resize grow.img 128M
fails_with "verify sees the misplaced backup" 1 "not at the end of the disk" vmkit part verify grow.img
ok "part fix" vmkit part fix grow.img
ok "verify clean after fix" vmkit part verify grow.img
sgdisk_ok "sgdisk -v after fix" grow.img
has "last usable sector moved" "$(vmkit part dump grow.img)" "last-lba: 262110"
eq "partition added in the new space" "$(vmkit part add grow.img --start 131072 --size 32M)" 3
sgdisk_ok "sgdisk -v after adding" grow.img

# Beyond 2 TiB: GPT's protective MBR caps at 0xffffffff; an MBR uses the
# first 2 TiB only and refuses anything past it.
truncate -s 3T big.raw
ok "gpt on 3 TiB" vmkit part init big.raw gpt
ok "1 TiB partition" vmkit part add big.raw --size 1T
ok "rest" vmkit part add big.raw
sgdisk_ok "3 TiB GPT passes sgdisk -v" big.raw
eq "protective MBR covers 0xffffffff sectors" "$(od -An -tx1 -j454 -N8 big.raw | tr -s ' ')" " 01 00 00 00 ff ff ff ff"
ok "mbr on 3 TiB" vmkit part init big.raw mbr
eq "rest of the first 2 TiB" "$(vmkit part add big.raw)" 1
has "ends at sector 2^32-1" "$(sfdisk -d big.raw 2>/dev/null)" "start=        2048, size=  4294965248"
fails_with "past 2 TiB refused" 1 "outside the usable sectors" vmkit part add big.raw --start 2T --size 1G
rm -f big.raw
finish
