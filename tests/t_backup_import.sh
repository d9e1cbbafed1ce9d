#!/bin/bash
# vmkit backup import: Clonezilla image directories in as snapshots.
# (1) save -> export -> import into a fresh repository -> restore gives
# the disk save would have stored (byte for byte the same as restoring
# the original snapshot; sfdisk, e2fsck -fn, fsck.fat -n, debugfs and
# mtools agree), and importing into the original repository adds no
# chunk; (2) images made by the real partclone.ext4/vfat -c, gzip'd,
# split and uncompressed, import and restore to the same files; (3) bad
# directories and damaged images are refused (exit 1, a message naming
# the file), leaving no snapshot and a repository verify calls good.
. "$(dirname "$0")/lib.sh"
need partclone.ext4 partclone.vfat zstd gzip e2fsck debugfs fsck.fat mcopy sfdisk python3 ||
    { finish; exit; }

pstart() { sfdisk -d "$1" | sed -n "s|^$1$2 : start= *\([0-9]*\),.*|\1|p"; }
psize() { sfdisk -d "$1" | sed -n "s|^$1$2 : start= *[0-9]*, size= *\([0-9]*\),.*|\1|p"; }
part_out() { dd if="$1" of="$3" bs=512 skip="$(pstart "$1" "$2")" count="$(psize "$1" "$2")" status=none; }
table() { sfdisk -d "$1" | sed "s|$1|DISK|"; }
# the files of disk $1 (ext4 partition 1, FAT partition 2) into $2
files_out() {
    part_out "$1" 1 "$2.p1" && part_out "$1" 2 "$2.p2" &&
    debugfs -R "dump /blob $2.eblob" "$2.p1" >/dev/null 2>&1 &&
    debugfs -R "dump /hello $2.ehello" "$2.p1" >/dev/null 2>&1 &&
    MTOOLS_SKIP_CHECK=1 mcopy -n -i "$2.p2" ::/blob2 "$2.fblob" &&
    MTOOLS_SKIP_CHECK=1 mcopy -n -i "$2.p2" ::/hello.txt "$2.fhello"
}
same_files() {
    cmp "$1.eblob" "$T/blob" && cmp "$1.ehello" "$T/hello" && cmp "$1.fblob" "$T/blob2" &&
        cmp "$1.fhello" "$T/hello" && e2fsck -fn "$1.p1" >/dev/null 2>&1 && fsck.fat -n "$1.p2" >/dev/null 2>&1
}
nsnaps() { ls "$1/snapshots" | grep -c '\.json$'; }
# partclone's CRC32 of bytes [a, b) of file $1 written at offset $2
fixcrc() {
    python3 - "$@" <<'PY'
import sys, zlib, struct
f, at, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
d = bytearray(open(f, 'rb').read())
d[at:at + 4] = struct.pack('<I', ~zlib.crc32(bytes(d[a:b])) & 0xffffffff)
open(f, 'wb').write(bytes(d))
PY
}

head -c 3000000 /dev/urandom >"$T/blob"
head -c 700000 /dev/urandom >"$T/blob2"
printf 'hello from ext\n' >"$T/hello"
M=$T/mbr.raw
ok "create an 84M raw disk" truncate -s 84M "$M"
ok "MBR: ext4, FAT32 to the end" sh -c "'$VMKIT' part init '$M' mbr &&
    '$VMKIT' part add '$M' --size 40M --type linux && '$VMKIT' part add '$M' --type fat32"
ok "mkfs ext4, vfat -F 32" sh -c "'$VMKIT' fs mkfs -t ext4 '$M:1' && '$VMKIT' fs mkfs -t vfat -F 32 '$M:2'"
ok "files in" sh -c "'$VMKIT' fs put '$T/blob' '$M:1:/blob' && '$VMKIT' fs put '$T/hello' '$M:1:/hello' &&
    '$VMKIT' fs put '$T/blob2' '$M:2:/blob2' && '$VMKIT' fs put '$T/hello' '$M:2:/hello.txt'"
head -c $((2047 * 512)) /dev/urandom >"$T/gap"
ok "fill the gap before partition 1" dd if="$T/gap" of="$M" bs=512 seek=1 conv=notrunc status=none

# ---- (1) round trip through export ----
R=$T/repo
ok "backup init" vmkit backup init "$R"
run_ok id vmkit backup save "$M" "$R" --name mbr
D=$T/cz
ok "export" vmkit backup export --split 1M "$R" mbr "$D"
R2=$T/repo2
ok "a fresh repository" vmkit backup init "$R2"
run_ok id2 vmkit backup import "$R2" "$D"
eq "named after DIR" "$(vmkit backup list "$R2" | awk 'NR>1{print $NF}')" cz
ok "the imported snapshot restores" vmkit backup restore "$R2" cz "$T/imp.raw"
ok "the original snapshot restores" vmkit backup restore "$R" mbr "$T/orig.raw"
eq "the same disk size" "$(stat -c %s "$T/imp.raw")" "$(stat -c %s "$M")"
ok "byte for byte what the original snapshot restores" cmp "$T/imp.raw" "$T/orig.raw"
eq "sfdisk -d: the same table" "$(table "$T/imp.raw")" "$(table "$M")"
ok "the hidden data after the MBR" cmp <(dd if="$T/imp.raw" bs=512 skip=1 count=2047 status=none) "$T/gap"
ok "files out (debugfs, mtools)" files_out "$T/imp.raw" "$T/i"
ok "same files; e2fsck -fn, fsck.fat -n clean" same_files "$T/i"
ok "verify --read-data" vmkit backup verify --read-data "$R2"
run_ok id3 vmkit backup import --name again "$R" "$D"
eq "into the original repository: no new chunk" \
    "$(vmkit backup info --json "$R" again | python3 -c 'import json,sys; print(json.load(sys.stdin)["new_chunks"])')" 0
eq "no temporary disk left" "$(ls -A "$R/snapshots" "$R2/snapshots" | grep -c '^\.')" 0

# GPT: the GPT copies byte for byte; a partition of no filesystem as a dd image
G=$T/gpt.raw
ok "GPT disk: ext4, a partition of random bytes" sh -c "truncate -s 48M '$G' && '$VMKIT' part init '$G' gpt &&
    '$VMKIT' part add '$G' --size 30M --type linux && '$VMKIT' part add '$G' --type linux &&
    '$VMKIT' fs mkfs -t ext4 '$G:1' && '$VMKIT' fs put '$T/blob' '$G:1:/blob'"
ok "random bytes in partition 2" sh -c "head -c 3M /dev/urandom |
    dd of='$G' bs=512 seek=$(pstart "$G" 2) conv=notrunc status=none"
run_ok gid vmkit backup save "$G" "$R" --name gpt
ok "export the GPT disk" vmkit backup export "$R" gpt "$T/czg"
ok "partition 2 exported as a dd image" test -e "$T/czg/sda2.dd-ptcl-img.zst.aa" -a -e "$T/czg/sda-gpt-2nd"
run_ok gid2 vmkit backup import --name gpt "$R2" "$T/czg"
ok "restore both" sh -c "'$VMKIT' backup restore '$R2' gpt '$T/gimp.raw' && '$VMKIT' backup restore '$R' gpt '$T/gorig.raw'"
eq "the same disk size" "$(stat -c %s "$T/gimp.raw")" "$(stat -c %s "$G")"
ok "byte for byte what the original snapshot restores" cmp "$T/gimp.raw" "$T/gorig.raw"
eq "sfdisk -d: the same table" "$(table "$T/gimp.raw")" "$(table "$G")"
ok "both GPT headers and tables as the disk's" bash -c "cmp <(head -c 17408 '$T/gimp.raw') <(head -c 17408 '$G') &&
    cmp <(tail -c 16896 '$T/gimp.raw') <(tail -c 16896 '$G')"
ok "the dd partition's bytes" bash -c "part_out() { dd if=\"\$1\" bs=512 skip=$(pstart "$G" 2) count=$(psize "$G" 2) status=none; }
    cmp <(part_out '$T/gimp.raw') <(part_out '$G')"
ok "ext4: e2fsck -fn" sh -c "dd if='$T/gimp.raw' of='$T/g1' bs=512 skip=$(pstart "$G" 1) count=$(psize "$G" 1) status=none &&
    e2fsck -fn '$T/g1' >/dev/null 2>&1"

# ---- (2) images partclone itself made ----
P=$T/pc
ok "partition images" sh -c "part_out() { dd if=\"\$1\" of=\"\$3\" bs=512 skip=\$(sfdisk -d \"\$1\" |
    sed -n \"s|^\$1\$2 : start= *\\([0-9]*\\),.*|\\1|p\") count=\$(sfdisk -d \"\$1\" |
    sed -n \"s|^\$1\$2 : start= *[0-9]*, size= *\\([0-9]*\\),.*|\\1|p\") status=none; }
    part_out '$M' 1 '$T/p1' && part_out '$M' 2 '$T/p2'"
ok "partclone.ext4 -c, partclone.vfat -c" sh -c "
    partclone.ext4 -c -s '$T/p1' -o '$T/pc1' -L '$T/log' >/dev/null 2>&1 &&
    partclone.vfat -c -s '$T/p2' -o '$T/pc2' -L '$T/log' >/dev/null 2>&1 && test -s '$T/pc1' -a -s '$T/pc2'"
mkdir -p "$P"
echo sda >"$P/disk"; echo "sda1 sda2" >"$P/parts"
sfdisk -d "$M" | sed "s|$M|/dev/sda|" >"$P/sda-pt.sf"
head -c 512 "$M" >"$P/sda-mbr"
ok "ext4 image gzip'd, split into 1M pieces" sh -c "gzip -c '$T/pc1' | split -b 1M -a 2 - '$P/sda1.ext4-ptcl-img.gz.' &&
    test -e '$P/sda1.ext4-ptcl-img.gz.ab'"
ok "vfat image uncompressed" cp "$T/pc2" "$P/sda2.vfat-ptcl-img.uncomp.aa"
run_ok id4 vmkit backup import --name real "$R2" "$P"
ok "restores" vmkit backup restore "$R2" real "$T/real.raw"
eq "sfdisk -d: the same table" "$(table "$T/real.raw")" "$(table "$M")"
ok "files out (debugfs, mtools)" files_out "$T/real.raw" "$T/r"
ok "same files; e2fsck -fn, fsck.fat -n clean" same_files "$T/r"
ok "the partitions' used blocks: what restoring the original gives" sh -c "
    cmp '$T/r.p1' '$T/i.p1' && cmp '$T/r.p2' '$T/i.p2'"

# ---- (3) bad input ----
n=$(nsnaps "$R2")
bad() {     # description, message, DIR
    fails_with "$1" 1 "$2" vmkit backup import "$R2" "$3"
    eq "$1: no snapshot left" "$(nsnaps "$R2")" "$n"
}
mkbad() { rm -rf "$T/$1"; cp -r "$P" "$T/$1"; }
bad "a missing DIR" "$T/nosuch" "$T/nosuch"
mkbad noparts; rm "$T/noparts/parts"
bad "no parts file" "noparts/parts" "$T/noparts"
mkbad noimg; rm "$T/noimg/sda2.vfat-ptcl-img.uncomp.aa"
bad "a partition without its image" "no image of sda2" "$T/noimg"
mkbad trunc; truncate -s $(( $(stat -c %s "$T/pc2") / 2 )) "$T/trunc/sda2.vfat-ptcl-img.uncomp.aa"
bad "a truncated image" "sda2.vfat-ptcl-img.uncomp.aa: truncated" "$T/trunc"
mkbad truncz; rm "$T/truncz/sda1.ext4-ptcl-img.gz.ab"
bad "a truncated gzip stream (a piece missing)" "ends early" "$T/truncz"
mkbad flip; s=$(( $(stat -c %s "$T/pc2") - 3000 ))
ok "flip a byte near the image's end (a data block)" python3 -c "import sys
f, s = sys.argv[1], int(sys.argv[2]); d = bytearray(open(f, 'rb').read()); d[s] ^= 0x5a
open(f, 'wb').write(bytes(d))" "$T/flip/sda2.vfat-ptcl-img.uncomp.aa" $s
bad "a flipped byte in a data block" "sda2.vfat-ptcl-img.uncomp.aa: checksum error in blocks" "$T/flip"
mkbad magic; printf 'X' | dd of="$T/magic/sda2.vfat-ptcl-img.uncomp.aa" bs=1 conv=notrunc status=none
bad "a wrong magic" "sda2.vfat-ptcl-img.uncomp.aa: not a partclone image" "$T/magic"
# one more bit set in the bitmap than the header's count, its CRC made right
mkbad bitmap; f=$T/bitmap/sda2.vfat-ptcl-img.uncomp.aa
tb=$(python3 -c "import struct,sys; print(struct.unpack_from('<Q', open(sys.argv[1],'rb').read(), 60)[0])" "$f")
bl=$(( (tb + 7) / 8 ))
ok "set a clear bit of the bitmap, fix its CRC" sh -c "python3 - '$f' $bl <<'PY'
import sys
f, bl = sys.argv[1], int(sys.argv[2])
d = bytearray(open(f, 'rb').read())
i = next(i for i in range(110 + bl - 2, 110, -1) if d[i] != 0xff)
d[i] |= (~d[i] & 0xff) & -(~d[i] & 0xff)
open(f, 'wb').write(bytes(d))
PY"
fixcrc "$f" $((110 + bl)) 110 $((110 + bl))
bad "a bitmap with more used blocks than the header" "the bitmap marks" "$T/bitmap"
mkbad bz; mv "$T/bz/sda2.vfat-ptcl-img.uncomp.aa" "$T/bz/sda2.vfat-ptcl-img.bz2.aa"
bad "bzip2 refused by name" "compression \"bz2\" is not read" "$T/bz"
fails_with "missing operands (usage)" 2 "DIR" vmkit backup import "$R2"
ok "the repository still verifies" vmkit backup verify --read-data "$R2"
eq "no temporary disk left" "$(ls -A "$R2/snapshots" | grep -c '^\.')" 0
finish
