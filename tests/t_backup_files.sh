#!/bin/bash
# vmkit backup ls/cat/get: files read straight from a snapshot's chunks,
# no restore.  An MBR disk with ext4 and FAT32: ls (plain, -l, -R, --json)
# matches 'fs ls' on the source image, cat matches the bytes debugfs and
# mtype read from the source, get -r equals 'fs get -r' of the source
# (diff -r); a later snapshot keeps the old file readable; a damaged chunk
# is refused; a missing path, bad SNAP or bad partition fail clearly.
. "$(dirname "$0")/lib.sh"
need debugfs dumpe2fs mtype tar sfdisk cmp diff || { finish; exit; }

pstart() { sfdisk -d "$1" | sed -n "s|^$1$2 : start= *\([0-9]*\),.*|\1|p" | awk '{ print $1 * 512 }'; }

mkdir -p "$T/tree/etc/deep/er" "$T/tree/empty"
head -c 3000000 /dev/urandom >"$T/tree/blob"
printf 'hello\n' >"$T/tree/etc/hello.txt"
for i in $(seq 40); do printf 'file %d\n' "$i" >"$T/tree/etc/deep/f$i.txt"; done
head -c 100000 /dev/urandom >"$T/tree/etc/deep/er/mid.bin"

M=$T/d.raw
ok "create a 100M raw disk" truncate -s 100M "$M"
ok "MBR: ext4 + FAT32" sh -c "'$VMKIT' part init '$M' mbr && '$VMKIT' part add '$M' --size 40M --type linux &&
    '$VMKIT' part add '$M' --type fat32"
ok "mkfs ext4, vfat -F 32" sh -c "'$VMKIT' fs mkfs -t ext4 '$M:1' && '$VMKIT' fs mkfs -t vfat -F 32 '$M:2'"
ok "tree into ext4" vmkit fs put -r "$T/tree" "$M:1:/tree"
ok "tree into FAT32" vmkit fs put -r "$T/tree" "$M:2:/tree"
ok "a symlink on ext4" vmkit fs ln -s etc/hello.txt "$M:1:/tree/link"

R=$T/repo
ok "backup init (64K chunks: files span several)" vmkit backup init --chunk-size 64K "$R"
run_ok id vmkit backup save "$M" "$R" --name disk

run_ok parts vmkit backup ls "$R" "$id"
has "ls SNAP lists the partitions" "$parts" "$id:1"
has "ls SNAP: partition 2 is vfat" "$parts" "vfat"
for p in 1 2; do
    for o in "" -l -R --json; do
        run_ok src vmkit fs ls $o "$M:$p:/tree"
        run_ok got vmkit backup ls $o "$R" "$id:$p:/tree"
        eq "partition $p: ls $o matches fs ls of the source" "$got" "$src"
    done
    run_ok src vmkit fs ls "$M:$p"
    run_ok got vmkit backup ls "$R" "disk:$p"
    eq "partition $p: ls of the root (SNAP by name) matches" "$got" "$src"
done

off1=$(pstart "$M" 1) off2=$(pstart "$M" 2)
ok "ext4 cat = debugfs cat of the source" cmp <(vmkit backup cat "$R" "$id:1:/tree/blob") \
    <(debugfs -R "cat /tree/blob" "$M?offset=$off1" 2>/dev/null)
ok "ext4 cat = the host file" cmp <(vmkit backup cat "$R" "$id:1:/tree/etc/deep/er/mid.bin") \
    "$T/tree/etc/deep/er/mid.bin"
ok "FAT32 cat = mtype of the source" cmp <(vmkit backup cat "$R" "$id:2:/tree/blob") \
    <(mtype -i "$M@@$off2" ::/tree/blob)
ok "FAT32 cat of a small file" cmp <(vmkit backup cat "$R" "latest:2:/tree/etc/hello.txt") \
    "$T/tree/etc/hello.txt"
eq "cat through a symlink" "$(vmkit backup cat "$R" "$id:1:/tree/link")" hello

for p in 1 2; do
    ok "partition $p: fs get -r of the source" vmkit fs get -r "$M:$p:/tree" "$T/src$p"
    ok "partition $p: backup get -r" vmkit backup get -r "$R" "$id:$p:/tree" "$T/got$p"
    ok "partition $p: the trees are equal (diff -r)" diff -r "$T/src$p" "$T/got$p"
    ok "partition $p: and equal to what was put in" diff -r -x link "$T/tree" "$T/got$p"
done
eq "the ext4 symlink came out as one" "$(readlink "$T/got1/link")" etc/hello.txt
ok "get of one file" vmkit backup get "$R" "$id:2:/tree/etc/deep/f7.txt" "$T/f7"
ok "  its bytes" cmp "$T/f7" "$T/tree/etc/deep/f7.txt"
fails_with "get of a directory without -r" 1 "is a directory" \
    vmkit backup get "$R" "$id:1:/tree/etc" "$T/nodir"
run_ok tar vmkit backup get "$R" "$id:1:/tree/etc" -
ok "get - writes a tar" sh -c "'$VMKIT' backup get '$R' '$id:1:/tree/etc' - | tar -t | grep -q deep/er/mid.bin"

# A later snapshot: the old version of a changed file stays readable.
printf 'changed\n' >"$T/new.txt"
ok "change hello.txt" vmkit fs put "$T/new.txt" "$M:1:/tree/etc/hello.txt"
run_ok id2 vmkit backup save "$M" "$R" --name disk
eq "the new snapshot has the new file" "$(vmkit backup cat "$R" "$id2:1:/tree/etc/hello.txt")" changed
eq "the old snapshot has the old one" "$(vmkit backup cat "$R" "$id:1:/tree/etc/hello.txt")" hello

# Bad input: clear errors, exit 1 (usage: 2).
fails_with "a missing path" 1 "no such file" vmkit backup cat "$R" "$id:1:/tree/nope"
fails_with "ls of a missing path" 1 "no such file" vmkit backup ls "$R" "$id:2:/nope"
fails_with "a bad SNAP" 1 "no snapshot 'nosuch'" vmkit backup cat "$R" "nosuch:1:/tree/blob"
fails_with "a partition that does not exist" 1 "no partition 7" vmkit backup cat "$R" "$id:7:/x"
fails_with "a partition that is not a number" 1 "bad partition" vmkit backup ls "$R" "$id:x"
fails_with "cat without a path" 1 "no path" vmkit backup cat "$R" "$id"
fails_with "not a repository" 1 "$T/tree" vmkit backup ls "$T/tree" "$id"
fails_with "get: a missing operand is a usage error" 2 "missing operand" vmkit backup get "$R" "$id:1:/tree"

# A flipped bit in the chunk under blob's data: cat refuses, never serves it.
run_ok sum sh -c "'$VMKIT' backup cat '$R' '$id:1:/tree/blob' | sha256sum"
bs=$(dumpe2fs -h "$M?offset=$off1" 2>/dev/null | awk -F: '/^Block size/ { print $2 + 0 }')
blk=$(debugfs -R "bmap /tree/blob 300" "$M?offset=$off1" 2>/dev/null)
at=$((off1 + blk * bs))
chunk=$(python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print([e["chunk"] for e in s["extents"] if e["offset"] <= int(sys.argv[2]) < e["offset"] + e["length"]][0])' \
    "$R/snapshots/$id.json" "$at")
f=$R/chunks/${chunk:0:2}/$chunk
ok "the chunk under blob's block 300 exists" test -s "$f"
ok "flip a bit in it" python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 4; open(p, "wb").write(b)' "$f"
fails_with "cat refuses the damaged chunk" 1 "$chunk" vmkit backup cat "$R" "$id:1:/tree/blob"
eq "a file in other chunks still reads" "$(vmkit backup cat "$R" "$id:1:/tree/etc/hello.txt")" hello
finish
