#!/bin/bash
# vmkit backup restore --size/--grow and --part: an MBR disk (FAT32, ext4
# last) and a GPT disk (ext4, FAT32 last) restored to bigger images, the
# last partition grown to the new end (sfdisk, sgdisk -v), ext4 grown
# (dumpe2fs, e2fsck -fn), FAT checked by fsck.fat and mtools; one
# partition restored into a partition of another disk with the rest of it
# byte-identical; too small a target refused, a damaged chunk leaves the
# target partition without a filesystem signature.
. "$(dirname "$0")/lib.sh"
need e2fsck debugfs dumpe2fs fsck.fat mtype sfdisk sgdisk blkid || { finish; exit; }

# start and size of partition N of raw image R, in sectors, from sfdisk
pgeom() { sfdisk -d "$1" | sed -n "s|^$1$2 : start= *\([0-9]*\), size= *\([0-9]*\),.*|\1 \2|p"; }
pstart() { pgeom "$1" "$2" | awk '{ print $1 * 512 }'; }
part_out() {
    read -r s z < <(pgeom "$1" "$2")
    [ -n "$s" ] && dd if="$1" of="$3" bs=1M iflag=skip_bytes,count_bytes skip=$((s * 512)) \
        count=$((z * 512)) status=none
}
fat_ok() { part_out "$1" "$2" "$T/p.fat" && fsck.fat -n "$T/p.fat"; }
ext_ok() { e2fsck -fn "$1?offset=$(pstart "$1" "$2")"; }
ext_cat() { debugfs -R "cat $3" "$1?offset=$(pstart "$1" "$2")" 2>/dev/null; }
fat_cat() { mtype -i "$1@@$(pstart "$1" "$2")" "::$3"; }
blocks() { dumpe2fs -h "$1?offset=$(pstart "$1" "$2")" 2>/dev/null | awk -F: '/^Block count/ { print $2 + 0 }'; }
# the last sector of partition N
pend() { pgeom "$1" "$2" | awk '{ print $1 + $2 - 1 }'; }
# bytes [off, off+len) of a file, hashed
range_sum() { dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none | sha256sum; }

head -c 2000000 /dev/urandom >"$T/blob"
head -c 500000 /dev/urandom >"$T/blob2"
R=$T/repo
ok "backup init" vmkit backup init --chunk-size 1M "$R"

# --- MBR: FAT32 then ext4 as the last partition ---
M=$T/mbr.raw
ok "create an 80M raw disk" truncate -s 80M "$M"
ok "MBR: FAT32 40M, ext4 the rest" sh -c "'$VMKIT' part init '$M' mbr &&
    '$VMKIT' part add '$M' --size 40M --type fat32 && '$VMKIT' part add '$M' --type linux"
ok "mkfs and files" sh -c "'$VMKIT' fs mkfs -t vfat -F 32 '$M:1' && '$VMKIT' fs mkfs -t ext4 '$M:2' &&
    '$VMKIT' fs put '$T/blob2' '$M:1:/blob2' && '$VMKIT' fs put '$T/blob' '$M:2:/blob'"
ok "backup save (mbr)" vmkit backup save "$M" "$R" --name mbr
b0=$(blocks "$M" 2)

ok "restore --size 160M --grow" vmkit backup restore --size 160M --grow "$R" mbr "$T/m.raw"
has "it says what it grew" "$(cat "$T/.out")" "partition 2 grown"
eq "DEST is 160M" "$(stat -c %s "$T/m.raw")" $((160 << 20))
eq "sfdisk: partition 2 ends at the last sector" "$(pend "$T/m.raw" 2)" $((160 * 2048 - 1))
eq "sfdisk: partition 1 unchanged" "$(pgeom "$T/m.raw" 1)" "$(pgeom "$M" 1)"
ok "grown ext4: e2fsck -fn clean" ext_ok "$T/m.raw" 2
b1=$(blocks "$T/m.raw" 2)
read -r _ psz < <(pgeom "$T/m.raw" 2)
ok "dumpe2fs: block count grew to the partition ($b0 -> $b1)" \
    test "$b1" -gt "$b0" -a $((b1 * 1024)) -le $((psz * 512)) -a $((psz * 512 - b1 * 1024)) -lt 4096
ok "ext /blob readable (debugfs)" cmp <(ext_cat "$T/m.raw" 2 /blob) "$T/blob"
ok "FAT32 untouched: fsck.fat -n clean" fat_ok "$T/m.raw" 1
ok "FAT /blob2 readable (mtools)" cmp <(fat_cat "$T/m.raw" 1 /blob2) "$T/blob2"
ok "vmkit fs cat reads the grown ext4" cmp <(vmkit fs cat "$T/m.raw:2:/blob") "$T/blob"

ok "restore --size without --grow: the table as saved" \
    vmkit backup restore --size 120M "$R" mbr "$T/m2.raw"
eq "  partition 2 ends where it did" "$(pend "$T/m2.raw" 2)" "$(pend "$M" 2)"
eq "  DEST is 120M" "$(stat -c %s "$T/m2.raw")" $((120 << 20))
fails_with "--size ending before the last partition's start: refused" 1 \
    "end before partition 2 has room" vmkit backup restore --size 40M "$R" mbr "$T/small.raw"
ok "  nothing created" test ! -e "$T/small.raw" -a ! -e "$T/small.raw.partial"
fails_with "--size too small for the data in ext4 (2 MiB left): refused, resize2fs's words" 1 \
    "cannot shrink" vmkit backup restore --size 43M "$R" mbr "$T/small.raw"
has "  resize2fs's words" "$(cat "$T/.out")" "No space left on device"
ok "  nothing created" test ! -e "$T/small.raw" -a ! -e "$T/small.raw.partial"
fails "--size not a multiple of 512: usage" 2 vmkit backup restore --size 1000 "$R" mbr "$T/x.raw"

# MBR whose last partition is a logical one: the extended grows with it
L=$T/log.raw
ok "MBR: 20M primary, extended, logical ext4" sh -c "truncate -s 60M '$L' && '$VMKIT' part init '$L' mbr &&
    '$VMKIT' part add '$L' --size 20M && '$VMKIT' part add '$L' --type extended &&
    '$VMKIT' part add '$L' --logical && '$VMKIT' fs mkfs -t ext4 '$L:5' && '$VMKIT' fs put '$T/blob' '$L:5:/blob'"
ok "backup save (log)" vmkit backup save "$L" "$R" --name log
ok "restore --grow to 100M" vmkit backup restore --size 100M --grow "$R" log "$T/l.raw"
eq "sfdisk: the extended partition ends at the last sector" "$(pend "$T/l.raw" 2)" $((100 * 2048 - 1))
eq "sfdisk: logical partition 5 too" "$(pend "$T/l.raw" 5)" $((100 * 2048 - 1))
ok "e2fsck -fn clean" ext_ok "$T/l.raw" 5
ok "block count grew" test "$(blocks "$T/l.raw" 5)" -gt "$(blocks "$L" 5)"
ok "ext /blob readable" cmp <(ext_cat "$T/l.raw" 5 /blob) "$T/blob"

# --- GPT (qcow2 restore): ext4 then FAT32 as the last partition ---
G=$T/gpt.raw
ok "create an 80M raw disk" truncate -s 80M "$G"
ok "GPT: ext4 30M, FAT32 the rest" sh -c "'$VMKIT' part init '$G' gpt &&
    '$VMKIT' part add '$G' --size 30M --type linux && '$VMKIT' part add '$G' --type fat32"
ok "mkfs and files" sh -c "'$VMKIT' fs mkfs -t ext4 '$G:1' && '$VMKIT' fs mkfs -t vfat -F 32 '$G:2' &&
    '$VMKIT' fs put '$T/blob' '$G:1:/blob' && '$VMKIT' fs put '$T/blob2' '$G:2:/blob2'"
ok "backup save (gpt)" vmkit backup save "$G" "$R" --name gpt
ok "restore --grow to a 160M raw" vmkit backup restore --size 160M --grow "$R" gpt "$T/g.raw"
# mkfs.fat sizes the FAT for the clusters it makes: a bigger FAT would move
# the data area, which the FAT resizer refuses, and restore says so
has "FAT32 not grown, and why" "$(cat "$T/.out")" "g.raw:2: this FAT32"
run_ok v sgdisk -v "$T/g.raw"
has "sgdisk -v: no problems (backup header at the new end, CRCs right)" "$v" "No problems found"
eq "sfdisk: last-lba is the new end's" "$(sfdisk -d "$T/g.raw" | sed -n 's/^last-lba: //p')" $((160 * 2048 - 34))
eq "sfdisk: partition 2 ends at last-lba" "$(pend "$T/g.raw" 2)" $((160 * 2048 - 34))
eq "no stale GPT header at the old end" "$(dd if="$T/g.raw" bs=512 skip=$((80 * 2048 - 1)) count=1 status=none | tr -d '\0' | wc -c)" 0
ok "FAT32: fsck.fat -n clean" fat_ok "$T/g.raw" 2
ok "FAT /blob2 readable (mtools)" cmp <(fat_cat "$T/g.raw" 2 /blob2) "$T/blob2"
ok "ext4 partition 1: e2fsck -fn clean" ext_ok "$T/g.raw" 1
ok "ext /blob readable (debugfs)" cmp <(ext_cat "$T/g.raw" 1 /blob) "$T/blob"
ok "restore --grow to qcow2" vmkit backup restore -f qcow2 --size 120M --grow "$R" gpt "$T/g.qcow2"
ok "  qemu-img convert back to raw" qemu-img convert -O raw "$T/g.qcow2" "$T/gq.raw"
run_ok v sgdisk -v "$T/gq.raw"
has "  sgdisk -v: no problems" "$v" "No problems found"
eq "  partition 2 ends at the new end" "$(pend "$T/gq.raw" 2)" $((120 * 2048 - 34))

# GPT with ext4 last: grown, too
G2=$T/gpt2.raw
ok "GPT disk with ext4 last" sh -c "truncate -s 40M '$G2' && '$VMKIT' part init '$G2' gpt &&
    '$VMKIT' part add '$G2' --type linux && '$VMKIT' fs mkfs -t ext4 '$G2:1' &&
    '$VMKIT' fs put '$T/blob' '$G2:1:/blob'"
ok "backup save (gpt2)" vmkit backup save "$G2" "$R" --name gpt2
ok "restore --grow to 100M" vmkit backup restore --size 100M --grow "$R" gpt2 "$T/g2.raw"
run_ok v sgdisk -v "$T/g2.raw"
has "sgdisk -v: no problems" "$v" "No problems found"
eq "partition 1 ends at last-lba" "$(pend "$T/g2.raw" 1)" $((100 * 2048 - 34))
ok "e2fsck -fn clean" ext_ok "$T/g2.raw" 1
ok "block count grew" test "$(blocks "$T/g2.raw" 1)" -gt "$(blocks "$G2" 1)"
ok "ext /blob readable" cmp <(ext_cat "$T/g2.raw" 1 /blob) "$T/blob"

# --- restore to a smaller disk: the last partition and its filesystem shrink ---
ok "mbr (80M) to 60M" vmkit backup restore --size 60M "$R" mbr "$T/s.raw"
has "  it says what it shrank" "$(cat "$T/.out")" "partition 2 shrunk"
eq "  DEST is 60M" "$(stat -c %s "$T/s.raw")" $((60 << 20))
eq "  sfdisk: partition 2 ends at the last sector" "$(pend "$T/s.raw" 2)" $((60 * 2048 - 1))
eq "  sfdisk: partition 1 unchanged" "$(pgeom "$T/s.raw" 1)" "$(pgeom "$M" 1)"
ok "  shrunk ext4: e2fsck -fn clean" ext_ok "$T/s.raw" 2
read -r _ psz < <(pgeom "$T/s.raw" 2)
ok "  dumpe2fs: block count within the partition, smaller than before" \
    test "$(blocks "$T/s.raw" 2)" -lt "$b0" -a $(( $(blocks "$T/s.raw" 2) * 1024 )) -le $((psz * 512))
ok "  ext /blob readable (debugfs)" cmp <(ext_cat "$T/s.raw" 2 /blob) "$T/blob"
ok "  FAT32 untouched: fsck.fat -n clean" fat_ok "$T/s.raw" 1
ok "  FAT /blob2 readable (mtools)" cmp <(fat_cat "$T/s.raw" 1 /blob2) "$T/blob2"
ok "log (60M, a logical ext4 last) to 45M" vmkit backup restore --size 45M "$R" log "$T/sl.raw"
eq "  sfdisk: the extended partition ends at the last sector" "$(pend "$T/sl.raw" 2)" $((45 * 2048 - 1))
eq "  sfdisk: logical partition 5 too" "$(pend "$T/sl.raw" 5)" $((45 * 2048 - 1))
ok "  e2fsck -fn clean" ext_ok "$T/sl.raw" 5
ok "  ext /blob readable" cmp <(ext_cat "$T/sl.raw" 5 /blob) "$T/blob"
ok "gpt (80M, FAT32 last) to a 70M qcow2" vmkit backup restore -f qcow2 --size 70M "$R" gpt "$T/sg.qcow2"
ok "  qemu-img check clean" qemu-img check "$T/sg.qcow2"
eq "  virtual size 70M" "$(qemu-img info --output=json "$T/sg.qcow2" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p')" $((70 << 20))
ok "  qemu-img convert to raw" qemu-img convert -O raw "$T/sg.qcow2" "$T/sg.raw"
run_ok v sgdisk -v "$T/sg.raw"
has "  sgdisk -v: no problems (backup header at the new end)" "$v" "No problems found"
eq "  partition 2 ends at last-lba" "$(pend "$T/sg.raw" 2)" $((70 * 2048 - 34))
ok "  shrunk FAT32: fsck.fat -n clean" fat_ok "$T/sg.raw" 2
ok "  FAT /blob2 readable (mtools)" cmp <(fat_cat "$T/sg.raw" 2 /blob2) "$T/blob2"
ok "  ext4 partition 1: e2fsck -fn clean" ext_ok "$T/sg.raw" 1
fails_with "gpt to 60M: FAT32 cannot go below 65525 clusters, refused" 1 "FAT32 needs at least" \
    vmkit backup restore --size 60M "$R" gpt "$T/sg2.raw"
W=$T/whole.raw
ok "a disk that is one ext4 filesystem, no table" sh -c "truncate -s 40M '$W' &&
    mkfs.ext4 -q -F '$W' && '$VMKIT' fs put '$T/blob' '$W:/blob'"
ok "backup save (whole)" vmkit backup save "$W" "$R" --name whole
ok "restore it to 20M" vmkit backup restore --size 20M "$R" whole "$T/sw.raw"
eq "  DEST is 20M" "$(stat -c %s "$T/sw.raw")" $((20 << 20))
ok "  e2fsck -fn clean" e2fsck -fn "$T/sw.raw"
ok "  /blob readable" cmp <(debugfs -R "cat /blob" "$T/sw.raw" 2>/dev/null) "$T/blob"
S=$T/swap.raw
ok "GPT: ext4, then swap last" sh -c "truncate -s 60M '$S' && '$VMKIT' part init '$S' gpt &&
    '$VMKIT' part add '$S' --size 30M && '$VMKIT' part add '$S' --type swap &&
    '$VMKIT' fs mkfs -t ext4 '$S:1' && '$VMKIT' fs mkfs -t swap '$S:2'"
ok "backup save (swap)" vmkit backup save "$S" "$R" --name swap
fails_with "to a smaller disk: a swap partition last cannot shrink, refused" 1 "cannot shrink" \
    vmkit backup restore --size 50M "$R" swap "$T/ss.raw"
ok "  nothing created" test ! -e "$T/ss.raw" -a ! -e "$T/ss.raw.partial"

# --- --part: partition 2 of mbr (ext4) into partition 2 of another disk ---
D=$T/dst.raw
ok "destination: MBR, 16M + 50M + the rest, filled with noise" sh -c "truncate -s 100M '$D' &&
    '$VMKIT' part init '$D' mbr && '$VMKIT' part add '$D' --size 16M && '$VMKIT' part add '$D' --size 50M &&
    '$VMKIT' part add '$D' --type fat32 && '$VMKIT' fs mkfs -t vfat -F 32 '$D:3' &&
    '$VMKIT' fs put '$T/blob2' '$D:3:/x' &&
    head -c 16M /dev/urandom | dd of='$D' bs=1M seek=1 conv=notrunc status=none"
read -r d2s d2z < <(pgeom "$D" 2)
before_head=$(range_sum "$D" 0 $((d2s * 512)))
before_tail=$(range_sum "$D" $(((d2s + d2z) * 512)) $((100 * 1048576 - (d2s + d2z) * 512)))
before_all=$(sha256sum <"$D")
fails_with "a too-small target is refused with both sizes" 1 "does not fit" \
    vmkit backup restore --part 2 "$R" mbr "$D:1"
has "  the message names the target's size" "$(cat "$T/.out")" "16777216 bytes"
eq "  the destination is untouched" "$(sha256sum <"$D")" "$before_all"
fails_with "no such partition in the snapshot" 1 "no partition 7" \
    vmkit backup restore --part 7 "$R" mbr "$D:2"
fails_with "DEST without :M refused" 1 "DISK:M" vmkit backup restore --part 2 "$R" mbr "$D"
fails "--part with --size: usage" 2 vmkit backup restore --part 2 --size 1G "$R" mbr "$D:2"
eq "  the destination is still untouched" "$(sha256sum <"$D")" "$before_all"

ok "restore --part 2 into DISK:2" vmkit backup restore --part 2 "$R" mbr "$D:2"
ok "e2fsck -fn clean in the target partition" ext_ok "$D" 2
eq "blkid: ext4 there" "$(blkid -p -o value -s TYPE -O $((d2s * 512)) "$D")" ext4
ok "ext /blob readable there (debugfs)" cmp <(ext_cat "$D" 2 /blob) "$T/blob"
eq "table, gap and partition 1 byte-identical" "$(range_sum "$D" 0 $((d2s * 512)))" "$before_head"
eq "partition 3 and on byte-identical" \
    "$(range_sum "$D" $(((d2s + d2z) * 512)) $((100 * 1048576 - (d2s + d2z) * 512)))" "$before_tail"
ok "partition 3's FAT still clean" fat_ok "$D" 3
eq "the filesystem kept its size without --grow" "$(blocks "$D" 2)" "$b0"

ok "restore --part 2 --grow fills the target partition" vmkit backup restore --part 2 --grow "$R" mbr "$D:2"
ok "e2fsck -fn clean" ext_ok "$D" 2
eq "dumpe2fs: block count = the 50M partition's" "$(blocks "$D" 2)" $((50 * 1024))
ok "ext /blob readable" cmp <(ext_cat "$D" 2 /blob) "$T/blob"
eq "the rest byte-identical after the grow" \
    "$(range_sum "$D" 0 $((d2s * 512)))$(range_sum "$D" $(((d2s + d2z) * 512)) $((100 * 1048576 - (d2s + d2z) * 512)))" \
    "$before_head$before_tail"

ok "restore --part 1 (FAT32) of gpt into the GPT disk's partition 2" \
    vmkit backup restore --part 2 "$R" gpt "$T/g2.raw:1"
ok "  fsck.fat -n clean there" fat_ok "$T/g2.raw" 1
ok "  FAT /blob2 readable" cmp <(fat_cat "$T/g2.raw" 1 /blob2) "$T/blob2"

# a damaged chunk under partition 2: refused midway, clearly incomplete
ok "copy the repository" cp -a "$R" "$T/bad"
# the last chunk of mbr's snapshot: inside its ext4 partition (41M-80M)
chunk=$(python3 -c 'import json,sys,glob
for f in glob.glob(sys.argv[1] + "/snapshots/*.json"):
    d = json.load(open(f))
    if d["name"] == "mbr":
        print([e for e in d["extents"] if e["offset"] >= 42 << 20][-1]["chunk"])' "$T/bad")
if [ -n "$chunk" ]; then
    f=$T/bad/chunks/${chunk:0:2}/$chunk
    ok "flip a byte in a chunk of the ext4 partition" sh -c "printf 'X' | dd of='$f' bs=1 seek=20 conv=notrunc status=none"
    fails_with "restore --part with a damaged chunk fails" 1 "restore incomplete" \
        vmkit backup restore --part 2 "$T/bad" mbr "$D:2"
    fails "  the partition has no filesystem signature (blkid finds none)" 2 blkid -p -O $((d2s * 512)) "$D"
    eq "  the rest still byte-identical" \
        "$(range_sum "$D" 0 $((d2s * 512)))$(range_sum "$D" $(((d2s + d2z) * 512)) $((100 * 1048576 - (d2s + d2z) * 512)))" \
        "$before_head$before_tail"
    fails "whole-disk --grow restore with the damaged chunk fails" 1 \
        vmkit backup restore --size 160M --grow "$T/bad" mbr "$T/bad.raw"
    ok "  and leaves no DEST" test ! -e "$T/bad.raw" -a ! -e "$T/bad.raw.partial"
else
    eq "found a chunk of the ext4 partition in the snapshot index" "" "a chunk id"
fi

finish
