#!/bin/bash
# Legacy CHS geometry (255 heads x 63 sectors x 512 bytes): the seed
# workflow on a 3950M file, checked with sfdisk -d and fdisk -l.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/part_lib.sh"
cd "$T" || exit 1

# The seed: a 3950M file is 503 cylinders of 8225280 bytes.
ok "vmkit img create bigfile 3950M" vmkit img create -f "$FMT" bigfile 3950M
ok "part init --legacy-chs" vmkit part init bigfile mbr --legacy-chs
eq "3950M is 4141875200 bytes" "$(qemu-img info --output=json bigfile | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')" 4141875200
eq "one Linux partition over the whole disk" "$(vmkit part add bigfile --type linux)" 1
r=$(as_raw bigfile)
run_ok list vmkit part list bigfile
has "geometry line" "$list" "255 heads, 63 sectors/track, 503 cylinders"
has "cylinder size" "$list" "Units = cylinders of 16065 * 512 = 8225280 bytes"
has "classic header" "$list" "Boot      Start         End      Blocks   Id  System"
has "classic row: cylinders 1-503, 4040316 blocks" "$(echo "$list" | grep '^bigfile1')" "                 1         503     4040316   83  Linux"
run_ok d sfdisk -d "$r"
has "sfdisk -d: start 63, 8080632 sectors" "$d" "start=          63, size=     8080632, type=83"
start=$(echo "$d" | awk '/start=/ {sub(",","",$4); print $4}')
size=$(echo "$d" | awk '/start=/ {sub(",","",$6); print $6}')
eq "byte offset 32256" "$((start * 512))" 32256
has "bigfile:1 is found at byte 32256 (vk_part_locate)" "$(vmkit img info bigfile:1)" "offset: 32256 bytes"
eq "4040316 1-KiB blocks" "$((size / 2))" 4040316
eq "503 cylinders of 8225280 bytes" "$(( (start + size) * 512 / 8225280 ))" 503
eq "unusable tail 4559360 bytes" "$(( 4141875200 - (start + size) * 512 ))" 4559360
eq "fdisk -l agrees" "$(fdisk -l "$r" | grep "^${r}1 " | tr -s ' ')" "${r}1 63 8080694 8080632 3.9G 83 Linux"
sfdisk_ok "sfdisk verifies the legacy table" bigfile
same_dump "dump matches sfdisk" bigfile
# CHS fields: start 0/1/1, end cylinder 502 head 254 sector 63.
eq "CHS bytes of the entry" "$(od -An -tx1 -j446 -N16 "$r" | tr -s ' ')" " 00 01 01 00 83 fe 7f f6 3f 00 00 00 f8 4c 7b 00"
has "json has the geometry" "$(vmkit part list --json bigfile)" '"cylinders": 503'
same_json "json matches sfdisk" bigfile

# More partitions stay on cylinders: primary on a cylinder start, logical
# one track in, ends on cylinder boundaries.
mkimg leg.img 1G
ok "init legacy" vmkit part init leg.img mbr --legacy-chs
eq "first" "$(vmkit part add leg.img --size 100M)" 1
eq "extended" "$(vmkit part add leg.img --type extended --size 500M)" 2
eq "logical" "$(vmkit part add leg.img --logical --size 50M --type swap)" 5
eq "logical 2" "$(vmkit part add leg.img --logical)" 6
eq "last" "$(vmkit part add leg.img)" 3
r=$(as_raw leg.img)
sfdisk_ok "multi-partition legacy table verifies" leg.img
same_dump "multi-partition legacy dump matches" leg.img
run_ok dump sfdisk -d "$r"
bad=$(echo "$dump" | awk -v c=16065 '/start=/ {sub(",","",$4); sub(",","",$6); s=$4; e=$4+$6;
    n=substr($1, length($1)); off=s%c; if (e%c) print $1" end"; if (n>=5 ? off!=63 : (s!=63 && off)) print $1" start"}')
eq "all partitions cylinder-aligned" "${bad:-none misaligned}" "none misaligned"
has "still listed as legacy" "$(vmkit part list leg.img)" "255 heads, 63 sectors/track"
mkimg leg2.img 1G
ok "init legacy 2" vmkit part init leg2.img mbr --legacy-chs
fails_with "off-cylinder start refused, naming the sectors" 1 "partition 1 (sectors 100-" vmkit part add leg2.img --start 100 --size 10M
fails_with "start inside a partition refused" 1 "inside partition 1" vmkit part add leg.img --start 1000 --size 1M

# Beyond 8 GB the CHS fields are capped at 1023/254/63.
mkimg huge.img 10G
ok "init legacy 10G" vmkit part init huge.img mbr --legacy-chs
ok "add whole disk" vmkit part add huge.img
r=$(as_raw huge.img)
eq "end CHS capped" "$(od -An -tx1 -j451 -N3 "$r" | tr -s ' ')" " fe ff ff"
sfdisk_ok "10G legacy verifies" huge.img

# An isohybrid ISO (xorriso -isohybrid-mbr, as Debian's installer ISOs):
# MBR partition 1 starts at sector 0, over the table itself.  Listed as
# sfdisk lists it, not refused.
if [ "$FMT" = raw ]; then
    mkdir -p iso; cp /usr/lib/ISOLINUX/isolinux.bin iso/; head -c 5000000 /dev/urandom >iso/data
    ok "xorriso makes an isohybrid ISO" xorriso -as mkisofs -quiet -o hyb.iso \
        -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin -b isolinux.bin -c boot.cat \
        -no-emul-boot -boot-load-size 4 -boot-info-table iso
    has "sfdisk: partition 1 at sector 0" "$(sfdisk --dump hyb.iso)" "hyb.iso1 : start=           0"
    cp hyb.iso hyb.orig
    ok "part list accepts it" vmkit part list hyb.iso
    same_dump "part dump equals sfdisk --dump" hyb.iso
    same_json "part list --json equals sfdisk --json" hyb.iso
    ok "part verify: no problem" vmkit part verify hyb.iso
    ok "the ISO is untouched" cmp hyb.iso hyb.orig
fi
finish
