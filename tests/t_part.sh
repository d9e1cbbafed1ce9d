#!/bin/bash
# vmkit part on MBR tables: primary, extended and logical partitions, the
# boot flag, boot code preservation, DISK:N; checked with sfdisk.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/part_lib.sh"
cd "$T" || exit 1

mkimg d.img 64M
ok "init mbr" vmkit part init d.img mbr
sfdisk_ok "empty MBR verifies" d.img
eq "add primary prints 1" "$(vmkit part add d.img --size 16M --bootable)" 1
eq "add extended prints 2" "$(vmkit part add d.img --type extended --size 40M)" 2
eq "add logical prints 5" "$(vmkit part add d.img --logical --size 8M --type swap)" 5
eq "add logical prints 6" "$(vmkit part add d.img --logical --size 10M --type lvm)" 6
eq "add logical prints 7" "$(vmkit part add d.img --logical)" 7
eq "add primary prints 3" "$(vmkit part add d.img --type fat32)" 3
sfdisk_ok "sfdisk verifies vmkit's MBR" d.img
same_dump "sfdisk --dump matches part dump" d.img
same_json "sfdisk --json matches part list --json" d.img
r=$(as_raw d.img)
has "first partition starts at 2048" "$(sfdisk -d "$r")" "start=        2048, size=       32768, type=83, bootable"
has "logical 6 type 8e" "$(sfdisk -d "$r" | grep "${r}6 ")" "type=8e"

# DISK:N reaches logical partitions through vk_part_locate: write through
# DISK:6 and read the bytes back at the offset sfdisk reports.
start6=$(sfdisk -d "$r" | awk -v n="${r}6" '$1==n {sub(",","",$4); print $4}')
has "part list names partition 6" "$(vmkit part list d.img)" "d.img6"
size6=$(sfdisk -d "$r" | awk -v n="${r}6" '$1==n {sub(",","",$6); print $6}')
ok "init a table inside logical 6 (d.img:6)" vmkit part init d.img:6 mbr
eq "add inside d.img:6" "$(vmkit part add d.img:6 --size 2M)" 1
has "d.img:6 lists its own table" "$(vmkit part list d.img:6)" "d.img:6"
r=$(as_raw d.img)
dd if="$r" of=p6.raw bs=512 skip="$start6" count="$size6" status=none
has "the nested table sits at partition 6's offset (sfdisk)" "$(sfdisk -d p6.raw)" "p6.raw1 : start=        2048, size=        4096, type=83"
eq "partition 6 is 10 MiB" "$((size6 * 512))" 10485760
sfdisk_ok "outer table still verifies" d.img
fails_with "DISK:N of a missing partition" 1 "no partition 9" vmkit part list d.img:9
fails_with "DISK:N of the extended container" 1 "partition 2 is an extended partition" vmkit part list d.img:2

# Boot code survives edits.
if [ "$FMT" = raw ]; then
    printf 'BOOTCODE-vmkit-test' | dd of=d.img bs=1 conv=notrunc status=none
    ok "set boot flag off" vmkit part set d.img 1 --bootable off
    eq "boot code kept" "$(head -c 19 d.img)" "BOOTCODE-vmkit-test"
    has "flag cleared" "$(sfdisk -d d.img | grep 'd.img1 ')" "type=83"
    eq "no bootable left" "$(sfdisk -d d.img | grep -c bootable)" 0
fi

# set/del/resize.
ok "set type of 5 to linux" vmkit part set d.img 5 --type linux
ok "delete logical 5 (6, 7 move up)" vmkit part del d.img 5
r=$(as_raw d.img)
eq "two logicals left" "$(sfdisk -d "$r" | grep -c "^${r}[5-9] ")" 2
sfdisk_ok "after del, sfdisk verifies" d.img
same_dump "after del, dumps match" d.img
ok "shrink 1 to 8M" vmkit part resize d.img 1 8M
fails_with "resize 1 past 2 refused with sectors" 1 "partition 1 (sectors 2048-" vmkit part resize d.img 1 40M
ok "resize 3 max" vmkit part resize d.img 3 max
sfdisk_ok "after resize, sfdisk verifies" d.img
same_json "after resize, json matches" d.img
ok "delete extended removes logicals" vmkit part del d.img 2
r=$(as_raw d.img)
eq "no logicals left" "$(sfdisk -d "$r" | grep -c "^${r}[5-9] ")" 0
same_dump "after extended delete, dumps match" d.img

# Refusals name the partition and the sectors.
fails_with "overlapping start refused" 1 "inside partition 1 (sectors 2048-" vmkit part add d.img --start 4096 --size 1M
fails_with "misaligned start refused" 1 "does not start on a 1 MiB boundary" vmkit part add d.img --start 100000 --size 1M
fails_with "too big refused" 1 "does not fit" vmkit part add d.img --start 43008 --size 1G
fails_with "no such partition" 1 "no partition 9" vmkit part del d.img 9
mkimg st.img 64M
ok "init st.img" vmkit part init st.img mbr
eq "--start with a suffix" "$(vmkit part add st.img --start 3M --size 1.5M)" 1
r=$(as_raw st.img)
has "3M is sector 6144, 1.5M is 3072 sectors" "$(sfdisk -d "$r")" "start=        6144, size=        3072"
fails_with "--start not on a sector" 2 "not a multiple of 512" vmkit part add st.img --start 1000B
fails_with "bios type on MBR refused" 1 "GPT tables only" vmkit part add d.img --type bios
fails "bad type is an error" 1 vmkit part add d.img --type nonsense
fails "bad size is a usage error" 2 vmkit part add d.img --size lots

# Tables written by sfdisk (incl. logical partitions) read identically.
mkimg s.img 64M
r=$(as_raw s.img)
ok_in "sfdisk writes an MBR with logicals" 'label: dos\n,16M,83,*\n,8M,c\n,30M,5\n,8M,82\n,8M,83\n,,83\n' sfdisk -q "$r"
if [ "$FMT" = qcow2 ]; then ok "back to qcow2" qemu-img convert -f raw -O qcow2 "$r" s.img; fi
same_json "sfdisk-written MBR with logicals lists the same" s.img
same_dump "sfdisk-written MBR dumps the same" s.img

# Dump from vmkit loads into sfdisk and vice versa.
ok "part dump s.img" sh -c '"$0" part dump s.img >s.script' "$VMKIT"
mkimg l.img 64M
ok "part load of sfdisk's dump" sh -c "sfdisk --dump $r | $VMKIT part load l.img"
same_dump "loaded table dumps like the original" l.img
eq "loaded table equals source" "$(vmkit part dump l.img | sed 1,5d | sed 's/^l.img//')" "$(sed 1,5d s.script | sed 's/^s.img//')"
truncate -s 64M back.raw
ok "sfdisk loads vmkit's dump" sh -c "$VMKIT part dump l.img | sfdisk -q back.raw"
eq "sfdisk's copy matches" "$(sfdisk -d back.raw | sed 1,5d | sed 's/^back.raw//')" "$(sed 1,5d s.script | sed 's/^s.img//')"

# sfdisk's unnamed script form gives the same table in both tools
# (primary while slots remain, then logical).
script='label: dos\n,16M,83,*\n,8M,c\n,30M,5\n,8M,82\n,8M,83\n,,83\n'
mkimg pv.img 64M
truncate -s 64M ps.raw
ok_in "sfdisk takes the unnamed form" "$script" sfdisk -q ps.raw
ok "load the unnamed form" sh -c "printf '$script' | $VMKIT part load pv.img"
r=$(as_raw pv.img)
eq "same layout as sfdisk made" "$(sfdisk -d "$r" | sed 1,5d | sed "s|^$r||")" "$(sfdisk -d ps.raw | sed 1,5d | sed 's/^ps.raw//')"
sfdisk_ok "unnamed-form table verifies" pv.img

# An MBR replacing a GPT erases the GPT headers.
mkimg w.img 16M
ok "gpt first" vmkit part init w.img gpt
ok "then mbr" vmkit part init w.img mbr
r=$(as_raw w.img)
has "sfdisk sees dos" "$(sfdisk -d "$r" 2>&1)" "label: dos"
eq "no GPT signature left at LBA 1 or the end" "$(od -An -c -j512 -N8 "$r" | tr -d ' ')$(tail -c 512 "$r" | head -c 8 | tr -d '\0')" "\0\0\0\0\0\0\0\0"
sfdisk_ok "converted disk verifies" w.img
finish
