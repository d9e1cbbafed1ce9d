#!/bin/bash
# vmkit backup export: a snapshot of an MBR disk (ext4, FAT32, a logical
# swap, a partition of unknown contents, GRUB-like data in the gap) as a
# Clonezilla image directory, checked with partclone itself: chkimg
# accepts the images, partclone.ext4/vfat -r restore filesystems that
# e2fsck -fn / fsck.fat -n call clean with the same files; sfdisk reads
# the pt.sf; the MBR, hidden data and dd image are the disk's bytes; free
# blocks (a deleted file) are not exported; bad input refused, exit 1,
# leaving nothing behind.
. "$(dirname "$0")/lib.sh"
need partclone.chkimg partclone.ext4 partclone.vfat zstd e2fsck e2image debugfs fsck.fat mtype sfdisk blkid qemu-img ||
    { finish; exit; }

pstart() { sfdisk -d "$1" | sed -n "s|^$1$2 : start= *\([0-9]*\),.*|\1|p"; }
psize() { sfdisk -d "$1" | sed -n "s|^$1$2 : start= *[0-9]*, size= *\([0-9]*\),.*|\1|p"; }
part_out() { dd if="$1" of="$3" bs=512 skip="$(pstart "$1" "$2")" count="$(psize "$1" "$2")" status=none; }
# the image of partition N in directory D, decompressed to stdout
img() { cat "$1"/sda"$2".*-ptcl-img.zst.a? | zstd -dcq; }

head -c 3000000 /dev/urandom >"$T/blob"
head -c 700000 /dev/urandom >"$T/blob2"
printf 'hello from ext\n' >"$T/hello"
for i in $(seq 2000); do printf 'SECRET-MARKER-%05d-deleted-file\n' "$i"; done >"$T/secret"

M=$T/mbr.raw
ok "create a 100M raw disk" truncate -s 100M "$M"
ok "MBR: ext4, FAT32, extended with a swap and an unknown partition" sh -c "'$VMKIT' part init '$M' mbr &&
    '$VMKIT' part add '$M' --size 40M --type linux && '$VMKIT' part add '$M' --size 40M --type fat32 &&
    '$VMKIT' part add '$M' --type extended && '$VMKIT' part add '$M' --logical --size 8M --type swap &&
    '$VMKIT' part add '$M' --logical --type linux"
ok "mkfs ext4, vfat -F 32, swap" sh -c "'$VMKIT' fs mkfs -t ext4 '$M:1' &&
    '$VMKIT' fs mkfs -t vfat -F 32 '$M:2' && '$VMKIT' fs mkfs -t swap '$M:5'"
ok "files in" sh -c "'$VMKIT' fs put '$T/blob' '$M:1:/blob' && '$VMKIT' fs put '$T/hello' '$M:1:/hello' &&
    '$VMKIT' fs put '$T/blob2' '$M:2:/blob2' && '$VMKIT' fs put '$T/hello' '$M:2:/hello.txt'"
ok "secret files in, then deleted" sh -c "'$VMKIT' fs put '$T/secret' '$M:1:/secret' &&
    '$VMKIT' fs put '$T/secret' '$M:2:/secret' && '$VMKIT' fs rm '$M:1:/secret' '$M:2:/secret'"
head -c $((2047 * 512)) /dev/urandom >"$T/gap"
ok "fill the gap before partition 1" dd if="$T/gap" of="$M" bs=512 seek=1 conv=notrunc status=none
ok "random bytes in partition 6 (no filesystem)" sh -c "head -c 2M /dev/urandom |
    dd of='$M' bs=512 seek=$(pstart "$M" 6) conv=notrunc status=none"

R=$T/repo
ok "backup init" vmkit backup init "$R"
run_ok id vmkit backup save "$M" "$R" --name mbr

D=$T/cz
ok "export --split 1M" vmkit backup export --split 1M "$R" mbr "$D"
eq "no temporary directory left" "$(find "$T" -maxdepth 1 -name "cz.tmp-*" | wc -l)" 0
eq "disk" "$(cat "$D/disk")" sda
eq "parts: no extended" "$(cat "$D/parts")" "sda1 sda2 sda5 sda6"
ok "ext4 and vfat partclone images, dd for the unknown, swap info" test -e "$D/sda1.ext4-ptcl-img.zst.aa" \
    -a -e "$D/sda2.vfat-ptcl-img.zst.aa" -a -e "$D/sda6.dd-ptcl-img.zst.aa" -a -e "$D/swappt-sda5.info"
ok "split: ext image in pieces of 1M, .aa .ab ..." sh -c "test -e '$D/sda1.ext4-ptcl-img.zst.ab' &&
    test \$(stat -c %s '$D/sda1.ext4-ptcl-img.zst.aa') = 1048576"
ok "the pieces are one zstd stream" sh -c "cat '$D'/sda1.ext4-ptcl-img.zst.a? | zstd -tq"
ok "sda-mbr is the first sector" cmp "$D/sda-mbr" <(head -c 512 "$M")
ok "hidden data: sectors 1-2047" cmp "$D/sda-hidden-data-after-mbr" "$T/gap"
part_out "$M" 6 "$T/p6"
ok "dd image: the partition's bytes" sh -c "cat '$D'/sda6.dd-ptcl-img.zst.a? | zstd -dcq | cmp - '$T/p6'"
ok "swap info: its UUID" grep -q "UUID=\"$(part_out "$M" 5 "$T/sw" && blkid -o value -s UUID "$T/sw")\"" \
    "$D/swappt-sda5.info"

# the table, read back by sfdisk onto a blank disk
ok "sfdisk writes sda-pt.sf to a blank disk" sh -c "truncate -s 100M '$T/blank' && sfdisk -q '$T/blank' <'$D/sda-pt.sf'"
eq "the same table" "$(sfdisk -d "$T/blank" | grep start= | sed 's|^[^ ]*||')" \
    "$(sfdisk -d "$M" | grep start= | sed 's|^[^ ]*||')"

# partclone's own checker and restore
ok "partclone.chkimg accepts the ext4 image" sh -c "cat '$D'/sda1.ext4-ptcl-img.zst.a? | zstd -dcq |
    partclone.chkimg -s - -L '$T/log' >'$T/chk1' 2>&1"
ok "partclone.chkimg accepts the vfat image" sh -c "cat '$D'/sda2.vfat-ptcl-img.zst.a? | zstd -dcq |
    partclone.chkimg -s - -L '$T/log' >'$T/chk2' 2>&1"
ok "partclone.ext4 -r restores it" sh -c "cat '$D'/sda1.ext4-ptcl-img.zst.a? | zstd -dcq |
    partclone.ext4 -r -W -s - -o '$T/r1' -L '$T/log' >/dev/null 2>&1"
ok "partclone.vfat -r restores it" sh -c "cat '$D'/sda2.vfat-ptcl-img.zst.a? | zstd -dcq |
    partclone.vfat -r -W -s - -o '$T/r2' -L '$T/log' >/dev/null 2>&1"
eq "ext4: the partition's size" "$(stat -c %s "$T/r1")" $(( $(psize "$M" 1) * 512 ))
ok "e2fsck -fn: clean" e2fsck -fn "$T/r1"
ok "fsck.fat -n: clean" fsck.fat -n "$T/r2"
ok "ext4: /blob as saved" cmp <(debugfs -R "cat /blob" "$T/r1" 2>/dev/null) "$T/blob"
ok "ext4: /hello as saved" cmp <(debugfs -R "cat /hello" "$T/r1" 2>/dev/null) "$T/hello"
ok "vfat: /blob2 as saved" sh -c "mtype -i '$T/r2' ::/blob2 | cmp - '$T/blob2'"
ok "vfat: /hello.txt as saved" sh -c "mtype -i '$T/r2' ::/hello.txt | cmp - '$T/hello'"
ok "ext4: vmkit fs cat of the restored filesystem" cmp <(vmkit fs cat "$T/r1:/blob") "$T/blob"
# the used blocks: the restored ext4 is the source partition wherever the
# source's block bitmap says used (e2image copies exactly those)
ok "ext4: every used block as in the source (e2image -r of both)" sh -c "part_out() { dd if='$M' of=\"\$2\" bs=512 \
    skip=$(pstart "$M" 1) count=$(psize "$M" 1) status=none; }; part_out 1 '$T/p1' &&
    e2image -r '$T/p1' '$T/u1' && e2image -r '$T/r1' '$T/u2' && cmp '$T/u1' '$T/u2'"
# byte for byte what partclone itself writes, but for the version string
# in the header (and so the header's CRC)
part_out "$M" 1 "$T/p1" && part_out "$M" 2 "$T/p2"
ok "partclone.ext4 -c and partclone.vfat -c of the source partitions" sh -c "
    partclone.ext4 -c -s '$T/p1' -o '$T/pc1' -L '$T/log' >/dev/null 2>&1 &&
    partclone.vfat -c -s '$T/p2' -o '$T/pc2' -L '$T/log' >/dev/null 2>&1 && test -s '$T/pc1' -a -s '$T/pc2'"
ok "ext4: the image is partclone.ext4 -c's after the header" \
    cmp <(tail -c +111 "$T/pc1") <(img "$D" 1 | tail -c +111)
ok "vfat: the image is partclone.vfat -c's after the header" \
    cmp <(tail -c +111 "$T/pc2") <(img "$D" 2 | tail -c +111)
eq "free blocks not exported (the deleted file)" \
    "$(for n in 1 2; do img "$D" $n; done | grep -a -c 'SECRET-MARKER-01234')" 0

# --- a GPT disk in qcow2: the GPT copies instead of the hidden data ---
G=$T/gpt.qcow2
ok "a 64M qcow2 GPT disk, ext4 partition" sh -c "'$VMKIT' img create -f qcow2 '$G' 64M >/dev/null &&
    '$VMKIT' part init '$G' gpt && '$VMKIT' part add '$G' --size 40M --type linux >/dev/null &&
    '$VMKIT' fs mkfs -t ext4 '$G:1' && '$VMKIT' fs put '$T/blob' '$G:1:/blob'"
run_ok gid vmkit backup save "$G" "$R" --name gpt
ok "export it (default --split)" vmkit backup export "$R" gpt "$T/czg"
ok "one piece at the default split" test -e "$T/czg/sda1.ext4-ptcl-img.zst.aa" -a ! -e "$T/czg/sda1.ext4-ptcl-img.zst.ab"
ok "raw copy of the source" qemu-img convert -O raw "$G" "$T/gpt.raw"
ok "sda-gpt-1st: the first 34 sectors" cmp "$T/czg/sda-gpt-1st" <(head -c $((34 * 512)) "$T/gpt.raw")
ok "sda-gpt-2nd: the last 33 sectors" cmp "$T/czg/sda-gpt-2nd" <(tail -c $((33 * 512)) "$T/gpt.raw")
ok "no hidden data file for GPT" test ! -e "$T/czg/sda-hidden-data-after-mbr"
ok "sfdisk writes its sda-pt.sf" sh -c "truncate -s 64M '$T/gblank' && sfdisk -q '$T/gblank' <'$T/czg/sda-pt.sf'"
eq "the same GPT partition" "$(sfdisk -d "$T/gblank" | grep start= | sed 's|^[^ ]*||')" \
    "$(sfdisk -d "$T/gpt.raw" | grep start= | sed 's|^[^ ]*||')"
ok "partclone.chkimg accepts its ext4 image" sh -c "zstd -dcq '$T/czg/sda1.ext4-ptcl-img.zst.aa' |
    partclone.chkimg -s - -L '$T/log' >'$T/chk3' 2>&1"

# --- bad input: exit 1, a clear message, nothing left behind ---
fails_with "unknown snapshot" 1 "nosuch" vmkit backup export "$R" nosuch "$T/cz2"
ok "nothing made for it" test ! -e "$T/cz2"
mkdir "$T/have" && echo keep >"$T/have/mine"
fails_with "an existing DIR is refused" 1 "exists" vmkit backup export "$R" mbr "$T/have"
eq "its contents untouched" "$(ls "$T/have")" mine
fails_with "an existing empty DIR too" 1 "exists" vmkit backup export "$R" mbr "$D"
fails_with "--split too small" 1 "at least 1M" vmkit backup export --split 4K "$R" mbr "$T/cz3"
fails_with "--split 0" 1 "at least 1M" vmkit backup export --split 0 "$R" mbr "$T/cz3"
fails_with "--split not a size (usage)" 2 "split" vmkit backup export --split lots "$R" mbr "$T/cz3"
fails_with "missing operands (usage)" 2 "DIR" vmkit backup export "$R" mbr
ok "nothing made for them" test ! -e "$T/cz3"
eq "no temporary directories left" "$(find "$T" -maxdepth 1 -name "*.tmp-*" | wc -l)" 0
fails_with "a repository that is not one" 1 "$T/nope" vmkit backup export "$T/nope" mbr "$T/cz4"
# a damaged chunk met half-way: the export stops and leaves nothing
ok "a copy of the repository" cp -a "$R" "$T/repo2"
big=$(find "$T/repo2/chunks" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
ok "flip a byte in its biggest chunk" python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(40000)
b=f.read(1); f.seek(40000); f.write(bytes([b[0] ^ 0xff]))" "$big"
fails_with "export of a snapshot with a damaged chunk: refused" 1 "$(basename "$big" | cut -c1-16)" \
    vmkit backup export "$T/repo2" mbr "$T/cz6"
ok "nothing made for it" test ! -e "$T/cz6"
eq "its temporary directory removed" "$(find "$T" -maxdepth 1 -name "*.tmp-*" | wc -l)" 0
# a disk without a partition table has no Clonezilla form
ok "a bare ext4 disk" sh -c "truncate -s 16M '$T/bare' && '$VMKIT' fs mkfs -t ext4 '$T/bare'"
run_ok id2 vmkit backup save "$T/bare" "$R" --name bare
fails_with "no partition table: refused" 1 "no partition table" vmkit backup export "$R" bare "$T/cz5"
ok "nothing made for it" test ! -e "$T/cz5"
eq "no temporary directories left" "$(find "$T" -maxdepth 1 -name "*.tmp-*" | wc -l)" 0
finish
