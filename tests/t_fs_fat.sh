#!/bin/bash
# vmkit fs on FAT: mkfs -t vfat checked with fsck.fat/blkid/mtools; images
# made by mkfs.fat (FAT12/16/32, -s 1/8/64) with files put by mcopy read
# back identically, long names included; damaged images give clear errors.
. "$(dirname "$0")/lib.sh"
export MTOOLS_SKIP_CHECK=1

# --- vmkit mkfs, the oracles judge ---
ok "img create floppy" vmkit img create "$T/floppy.img" 1440K
ok "mkfs -t vfat floppy" vmkit fs mkfs -t vfat -L FLOPPY -U 2A3B-4C5D "$T/floppy.img"
ok "fsck.fat -n clean" fsck.fat -n "$T/floppy.img"
eq "blkid LABEL UUID TYPE" "$(blkid -p -o value -s LABEL -s UUID -s TYPE "$T/floppy.img" | tr '\n' ' ')" "FLOPPY 2A3B-4C5D vfat "
ok "mkfs.fat makes the reference floppy" mkfs.fat -C "$T/floppy2.img" 1440
eq "floppy BPB (bytes 11..38) equals mkfs.fat's" "$(od -An -tx1 -j11 -N28 "$T/floppy.img")" "$(od -An -tx1 -j11 -N28 "$T/floppy2.img")"
has "file: FAT12, 224 root entries" "$(file -b "$T/floppy.img")" "root entries 224, sectors 2880 (volumes <=32 MB), sectors/FAT 9, sectors/track 18"
run_ok out vmkit fs probe "$T/floppy.img"
has "probe type" "$out" 'TYPE="vfat"'
has "probe label" "$out" 'LABEL="FLOPPY"'
has "probe uuid" "$out" 'UUID="2A3B-4C5D"'
has "probe size" "$out" 'SIZE=1474560'
ok_in "mcopy puts HELLO.TXT on vmkit's floppy" 'hello\n' mcopy -i "$T/floppy.img" - ::/HELLO.TXT
eq "cat a file mcopy put on vmkit's floppy" "$(vmkit fs cat "$T/floppy.img:/hello.txt")" "hello"

ok "mkfs -t vfat -F 32" bash -c "truncate -s 64M '$T/f32.img' && '$VMKIT' fs mkfs -t vfat -F 32 -L BIG32 '$T/f32.img'"
ok "fsck.fat -n -V FAT32" fsck.fat -n -V "$T/f32.img"
eq "blkid FAT32" "$(blkid -p -o value -s LABEL -s TYPE "$T/f32.img" | tr '\n' ' ')" "BIG32 vfat "
has "mdir sees the label" "$(mdir -i "$T/f32.img" :: 2>&1)" "Volume in drive : is BIG32"

# every mkfs option the README shows for vfat: -F, -c (bytes, or with a unit), -L, -U
ok "mkfs -t vfat -F 16 -c 4096" bash -c "truncate -s 64M '$T/c.img' && '$VMKIT' fs mkfs -t vfat -F 16 -c 4096 -L C4K -U 1234-ABCD '$T/c.img'"
ok "fsck.fat -n: -c 4096" fsck.fat -n "$T/c.img"
has "fsck.fat -v: 4096 bytes per cluster" "$(fsck.fat -nv "$T/c.img" 2>&1)" " 4096 bytes per cluster"
eq "blkid: FAT16, label, volume id" "$(blkid -p -o value -s LABEL -s UUID -s VERSION "$T/c.img" | tr '\n' ' ')" "C4K 1234-ABCD FAT16 "
ok "mkfs -t vfat --cluster-size 16K" vmkit fs mkfs -t vfat --cluster-size 16K "$T/c.img"
has "fsck.fat -v: 16384 bytes per cluster" "$(fsck.fat -nv "$T/c.img" 2>&1)" "16384 bytes per cluster"
fails_with "-c 3000 refused" 1 "not a power of two" vmkit fs mkfs -t vfat -c 3000 "$T/c.img"
fails_with "-c junk is a usage error" 2 "bad cluster size 'x'" vmkit fs mkfs -t vfat -c x "$T/c.img"
fails_with "-F 13 is a usage error" 2 "-F wants 12, 16 or 32" vmkit fs mkfs -t vfat -F 13 "$T/c.img"
fails_with "-F junk is a usage error" 2 "-F wants 12, 16 or 32" vmkit fs mkfs -t vfat -F x "$T/c.img"

# --- images from mkfs.fat, files from mcopy, read by vmkit ---
mkdir -p "$T/src/Sub Dir/deeper"
head -c 300000 /dev/urandom >"$T/src/A long file name with spaces.bin"
echo short >"$T/src/SHORT.TXT"
echo lower >"$T/src/lower.txt"
printf 'x%.0s' $(seq 1 5000) >"$T/src/Sub Dir/deeper/ünïcødé näme.TXT"
: >"$T/src/empty"
n=0
for spec in "12 1 1440" "12 4 4000" "16 1 20000" "16 8 60000" "16 64 200000" "32 1 70000" "32 8 300000"; do
    set -- $spec
    n=$((n + 1))
    img=$T/m$n.img
    what="FAT$1 -s $2 ${3}K"
    ok "$what: mkfs.fat" mkfs.fat -C -F "$1" -s "$2" "$img" "$3"
    ok "$what: mcopy -s the tree" sh -c 'cd "$1/src" && mcopy -s -i "$2" ./* ::/' _ "$T" "$img"
    eq "$what: ls /" "$(vmkit fs ls "$img:/" | sort | tr '\n' '|')" "A long file name with spaces.bin|SHORT.TXT|Sub Dir|empty|lower.txt|"
    eq "$what: ls deep (UTF-8 long name)" "$(vmkit fs ls "$img:/Sub Dir/deeper")" "ünïcødé näme.TXT"
    ok "$what: cat the long-named file" sh -c '"$0" fs cat "$1" >"$2"' "$VMKIT" "$img:/A long file name with spaces.bin" "$T/out.bin"
    ok "$what: 300000 random bytes read back identically" cmp "$T/out.bin" "$T/src/A long file name with spaces.bin"
    ok "$what: cat by a case-insensitive path" sh -c '"$0" fs cat "$1" >"$2"' "$VMKIT" "$img:/sub dir/DEEPER/ünïcødé näme.txt" "$T/out.bin"
    ok "$what: case-insensitive path, long UTF-8 name, read back" cmp "$T/out.bin" "$T/src/Sub Dir/deeper/ünïcødé näme.TXT"
    none "$what: empty file reads as nothing" vmkit fs cat "$img:/empty"
    has "$what: stat size" "$(vmkit fs stat "$img:/A long file name with spaces.bin")" "Size: 300000"
    ok "$what: fsck.fat still clean (vmkit only read)" fsck.fat -n "$img"
done
# mtools stores short lowercase names with the NT case flags.
eq "8.3 lowercase flag shown as lowercase" "$(vmkit fs ls "$T/m1.img:/" | grep -c '^lower.txt$')" "1"
ok "get -r exits 0" vmkit fs get -r "$T/m5.img:/Sub Dir" "$T/got"
ok "get -r a directory tree" cmp "$T/got/deeper/ünïcødé näme.TXT" "$T/src/Sub Dir/deeper/ünïcødé näme.TXT"

# --- writing with vmkit, the oracles judge ---
for spec in "floppy 1440K" "f16 20M -F 16" "f32 64M -F 32"; do
    set -- $spec
    img=$T/w-$1.img
    ok "$img: img create" vmkit img create "$img" "$2"
    shift 2
    ok "$img: mkfs" vmkit fs mkfs -t vfat "$@" -L WR "$img"
    ok "$img: put -r a tree" vmkit fs put -r "$T/src" "$img:/tree"
    ok "$img: fsck.fat -n clean after put" fsck.fat -n "$img"
    mtype -i "$img" "::/tree/A long file name with spaces.bin" >"$T/out.bin"
    ok "$img: mtype reads the long-named file identically" cmp "$T/out.bin" "$T/src/A long file name with spaces.bin"
    mtype -i "$img" "::/tree/Sub Dir/deeper/ünïcødé näme.TXT" >"$T/out.bin"
    ok "$img: mtype reads the UTF-8 long name" cmp "$T/out.bin" "$T/src/Sub Dir/deeper/ünïcødé näme.TXT"
    has "$img: mdir lists the long name" "$(mdir -i "$img" ::/tree 2>&1)" "A long file name with spaces.bin"
    has "$img: lowercase 8.3 stored with NT flags (no long name)" "$(mdir -i "$img" ::/tree 2>&1 | grep lower)" "lower    txt"
    ok "$img: mkdir" vmkit fs mkdir "$img:/New Folder"
    ok "$img: mv across directories" vmkit fs mv "$img:/tree/SHORT.TXT" "$img:/New Folder/Renamed file.txt"
    eq "$img: moved content" "$(mtype -i "$img" "::/New Folder/Renamed file.txt")" "short"
    ok "$img: mv a directory" vmkit fs mv "$img:/tree/Sub Dir" "$img:/New Folder/Sub Dir"
    has "$img: mdir sees the moved dir's content" "$(mdir -i "$img" "::/New Folder/Sub Dir/deeper" 2>&1)" "ünïcødé näme.TXT"
    ok "$img: rm" vmkit fs rm "$img:/tree/lower.txt"
    ok "$img: rm -r" vmkit fs rm -r "$img:/New Folder/Sub Dir"
    ok "$img: fsck.fat -n -V clean after mkdir/mv/rm" fsck.fat -n -V "$img"
    ok "$img: chmod 0444" vmkit fs chmod 0444 "$img:/tree/empty"
    has "$img: mattrib sees read-only" "$(mattrib -i "$img" ::/tree/empty)" "R"
    has "$img: stat mode r--" "$(vmkit fs stat "$img:/tree/empty")" "0444"
    ok "$img: chmod 0644" vmkit fs chmod 0644 "$img:/tree/empty"
    eq "$img: read-only bit cleared" "$(mattrib -i "$img" ::/tree/empty | cut -c1-8 | tr -d ' ')" "A"
done
img=$T/w-floppy.img
for i in 1 2 3; do echo "$i" >"$T/n$i"; ok "put Same long prefix $i.txt" vmkit fs put "$T/n$i" "$img:/tree/Same long prefix $i.txt"; done
eq "short names get ~N tails" "$(mdir -i "$img" ::/tree | grep -c 'SAMELO~[123] TXT')" "3"
ok "case-insensitive overwrite" vmkit fs put "$T/n2" "$img:/TREE/same LONG prefix 1.TXT"
eq "overwritten content" "$(mtype -i "$img" "::/tree/Same long prefix 1.txt")" "2"
head -c 2000000 /dev/urandom >"$T/big"
fails_with "ENOSPC on a full floppy" 1 "no space left" vmkit fs put "$T/big" "$img:/big"
ok "fsck.fat clean after ENOSPC" fsck.fat -n "$img"
long=$(printf 'b%.0s' $(seq 1 250))
ok "250-character name" vmkit fs put "$T/n1" "$img:/$long"
has "mdir shows the 250-character name" "$(mdir -i "$img" ::/ 2>&1)" "$long"
ok "fsck.fat clean after the long name" fsck.fat -n "$img"
fails_with "bad character refused" 1 "not allowed" vmkit fs put "$T/n1" "$img:/a:b"
# A directory growing over many clusters, removed, and its clusters reused.
mkdir -p "$T/many"
for i in $(seq 1 60); do echo "$i" >"$T/many/A rather long file name number $i.txt"; done
ok "put 60 long names (directory grows cluster by cluster)" vmkit fs put -r "$T/many" "$img:/many"
eq "mdir counts 60" "$(mdir -/ -b -i "$img" ::/many | grep -c 'number')" "60"
eq "content of the last" "$(mtype -i "$img" "::/many/A rather long file name number 60.txt")" "60"
ok "fsck.fat clean after growth" fsck.fat -n "$img"
ok "rm -r it" vmkit fs rm -r "$img:/many"
ok "mkdir reusing the clusters" vmkit fs mkdir "$img:/again"
eq "ls of an empty directory: nothing (no qsort(NULL) under UBSan)" "$(vmkit fs ls "$img:/again"; echo "rc=$?")" "rc=0"
ok "put into it" vmkit fs put "$T/n3" "$img:/again/x.txt"
eq "ls the new dir" "$(vmkit fs ls "$img:/again")" "x.txt"
ok "fsck.fat clean after reuse" fsck.fat -n "$img"

# --- inside a partition, and inside qcow2 ---
ok "disk with an MBR partition" bash -c "'$VMKIT' img create '$T/disk.img' 64M >/dev/null && '$VMKIT' part init '$T/disk.img' mbr && '$VMKIT' part add '$T/disk.img' --type fat32 >/dev/null"
ok "mkfs -t vfat on disk.img:1" vmkit fs mkfs -t vfat -L PART "$T/disk.img:1"
ok "put -r into the partition" vmkit fs put -r "$T/src" "$T/disk.img:1:/src"
has "mdir -i disk.img@@1M sees the long name" "$(mdir -i "$T/disk.img@@1M" ::/src 2>&1)" "A long file name with spaces.bin"
eq "mtype through the offset" "$(mtype -i "$T/disk.img@@1M" ::/src/SHORT.TXT)" "short"
eq "blkid -O 1M label" "$(blkid -p -O 1048576 -o value -s LABEL "$T/disk.img")" "PART"
dd if="$T/disk.img" of="$T/p1.img" bs=1M skip=1 2>/dev/null
ok "fsck.fat -n on the partition's bytes" fsck.fat -n "$T/p1.img"
if ok "img create -f qcow2" vmkit img create -f qcow2 "$T/q.qcow2" 32M; then
    ok "mkfs -t vfat on qcow2" vmkit fs mkfs -t vfat -L QC "$T/q.qcow2"
    ok "put into qcow2" vmkit fs put "$T/src/A long file name with spaces.bin" "$T/q.qcow2:/a.bin"
    ok "qemu-img convert to raw" qemu-img convert -O raw "$T/q.qcow2" "$T/q.raw"
    ok "fsck.fat -n on the converted image" fsck.fat -n "$T/q.raw"
    ok "mtype reads the file from the converted image" \
        sh -c 'mtype -i "$1" ::/a.bin | cmp - "$2"' _ "$T/q.raw" "$T/src/A long file name with spaces.bin"
fi

# --- DOS code page of 8.3 names: cp437 by default (as Linux), --codepage N ---
printf 'default_codepage=437\n' >"$T/mtoolsrc437"
printf 'default_codepage=850\n' >"$T/mtoolsrc850"
mkfs.fat -C "$T/cp.img" 1440 >/dev/null
echo ete >"$T/ete"; echo ab >"$T/ab"
MTOOLSRC=$T/mtoolsrc437 mcopy -i "$T/cp.img" "$T/ete" "::ÉTÉ.TXT"
MTOOLSRC=$T/mtoolsrc850 mcopy -i "$T/cp.img" "$T/ab" "::ÀB.TXT"
eq "mtools (cp437) made ÉTÉ.TXT as a plain 8.3 entry (0x90 T 0x90)" "$(od -An -tx1 -j$((19 * 512)) -N3 "$T/cp.img" | tr -d ' ')" "905490"
eq "ls decodes 8.3 names as cp437, like Linux" "$(vmkit fs ls "$T/cp.img:/" | tr '\n' ' ')" "ÉTÉ.TXT ╖B.TXT "
eq "cat ÉTÉ.TXT by the name Linux shows" "$(vmkit fs cat "$T/cp.img:/ÉTÉ.TXT")" "ete"
eq "--codepage 850 reads mtools' cp850 name" "$(vmkit fs --codepage 850 ls "$T/cp.img:/" | tr '\n' ' ')" "ÀB.TXT ÉTÉ.TXT "
eq "--codepage=850 after the verb too, cat by name" "$(vmkit fs cat --codepage=850 "$T/cp.img:/ÀB.TXT")" "ab"
ok "put été.txt (cp437 alias)" vmkit fs put "$T/ete" "$T/cp.img:/été.txt"
ok "put with --codepage 850" vmkit fs --codepage 850 put "$T/ab" "$T/cp.img:/àbc long.txt"
out=$(MTOOLSRC=$T/mtoolsrc437 mdir -i "$T/cp.img" ::/ 2>&1)
has "mdir (cp437): the short alias of été.txt in cp437" "$out" "ÉTÉ~1    TXT         4"
has "mdir (cp437): its long name" "$out" "été.txt"
has "mdir (cp850): the alias made with --codepage 850" "$(MTOOLSRC=$T/mtoolsrc850 mdir -i "$T/cp.img" ::/ 2>&1)" "ÀBCLON~1 TXT"
eq "mtype (cp437) by the alias" "$(MTOOLSRC=$T/mtoolsrc437 mtype -i "$T/cp.img" "::/ÉTÉ~1.TXT")" "ete"
ok "fsck.fat clean after code page names" fsck.fat -n "$T/cp.img"
fails_with "unknown code page refused" 1 "DOS code page 999 is not known" vmkit fs --codepage 999 ls "$T/cp.img:/"
fails_with "bad code page refused" 1 "bad DOS code page" vmkit fs --codepage x ls "$T/cp.img:/"

# --- damaged images ---
# m1: FAT12, 1 sector/cluster, reserved 1: the first file's chain.
ok "damaged: mkfs.fat FAT12" mkfs.fat -C -F 12 "$T/bad.img" 1440
head -c 1000 /dev/urandom >"$T/two"
ok "damaged: mcopy TWO" mcopy -i "$T/bad.img" "$T/two" ::/TWO
cp "$T/bad.img" "$T/loop.img"
# FAT entries 2 -> 3 -> 2 (a loop) in both copies, file size enlarged.
printf '\x03\x20\x00' | dd of="$T/loop.img" bs=1 seek=$((512 + 3)) conv=notrunc 2>/dev/null
printf '\x03\x20\x00' | dd of="$T/loop.img" bs=1 seek=$((512 + 9 * 512 + 3)) conv=notrunc 2>/dev/null
root=$(( (1 + 2 * 9) * 512 ))
printf '\x00\x00\x10\x00' | dd of="$T/loop.img" bs=1 seek=$((root + 28)) conv=notrunc 2>/dev/null
fails_with "looping chain: clear error" 1 "loop.img:/TWO: cluster chain loops" vmkit fs cat "$T/loop.img:/TWO"
cp "$T/bad.img" "$T/past.img"
printf '\xff\x0f' | dd of="$T/past.img" bs=1 seek=$((root + 26)) conv=notrunc 2>/dev/null
fails_with "entry past the end: clear error" 1 "past.img:/TWO: first cluster 4095 outside" vmkit fs cat "$T/past.img:/TWO"
cp "$T/bad.img" "$T/short.img"
printf '\x00\x00\x10\x00' | dd of="$T/short.img" bs=1 seek=$((root + 28)) conv=notrunc 2>/dev/null
fails_with "chain shorter than size: clear error" 1 "too short" vmkit fs cat "$T/short.img:/TWO"
cp "$T/bad.img" "$T/dir.img"
ok "damaged: mmd D" mmd -i "$T/dir.img" ::/D
printf '\xf0\x0f' | dd of="$T/dir.img" bs=1 seek=$((root + 32 + 26)) conv=notrunc 2>/dev/null
fails_with "directory past the end: clear error" 1 "dir.img:/D: directory starts at cluster 4080, outside" vmkit fs ls "$T/dir.img:/D"
# A subdirectory entry pointing back at its parent's cluster.
ok "cycle: mkfs.fat" mkfs.fat -C "$T/cyc.img" 1440
ok "cycle: mmd D D/E" mmd -i "$T/cyc.img" ::/D ::/D/E
# D got cluster 2; in D's cluster (sector 33): ".", "..", then E at +64.
printf '\x02\x00' | dd of="$T/cyc.img" bs=1 seek=$((33 * 512 + 64 + 26)) conv=notrunc 2>/dev/null
fails_with "directory loop: clear error" 1 "cyc.img:/D/E: directory loop" vmkit fs ls "$T/cyc.img:/D/E"
fails_with "ls -R over the loop ends with the error" 1 "directory loop" vmkit fs ls -R "$T/cyc.img:/"
for f in "11 \x00\x03 bytes-per-sector-768" "13 \x00 zero-sectors-per-cluster" "22 \x00\x00 fat-size-0" "16 \x00 no-fats"; do
    set -- $f
    cp "$T/bad.img" "$T/$3.img"
    printf "$2" | dd of="$T/$3.img" bs=1 seek="$1" conv=notrunc 2>/dev/null
    fails_with "absurd BPB ($3): refused" 1 "$3.img: no filesystem found" vmkit fs ls "$T/$3.img:/"
done
long=$(printf 'a%.0s' $(seq 1 300))
fails_with "name over 255 characters" 1 "longer than 255" vmkit fs cat "$T/bad.img:/$long"
finish
