#!/bin/bash
# vmkit fs check [--repair] and fs resize: the real tools (e2fsck,
# fsck.fat, resize2fs) on whole raw images, raw partitions and qcow2
# partitions; damage is detected (exit 1), repaired (exit 0), and the
# results are checked with e2fsck / dumpe2fs / fsck.fat / debugfs
# directly.  A damaged ext filesystem stays readable and refuses writes.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

head -c 300000 /dev/urandom >data
off() { echo "$1?offset=1048576"; }          # the partition below starts at 1 MiB
blocks() { dumpe2fs -h "$1" 2>/dev/null | sed -n 's/^Block count: *//p'; }
bsize() { dumpe2fs -h "$1" 2>/dev/null | sed -n 's/^Block size: *//p'; }
same() { debugfs -R "dump /f got" "$1" >/dev/null 2>&1 && cmp -s got data; }

# --- whole raw image ------------------------------------------------------
truncate -s 32M w.img
ok "mkfs ext4" vmkit fs mkfs -t ext4 w.img
ok "put a file" vmkit fs put data w.img:/f
ok "e2fsck: clean" e2fsck -fn w.img
out=$(vmkit fs check w.img 2>&1); rc=$?
eq "check clean: exit 0" "$rc" 0
has "check prints e2fsck's passes" "$out" "Pass 5"
has "check output names the image, not a temporary file" "$out" "w.img: "

# A bitmap checksum that no longer matches (what a crash between a bitmap
# and its group descriptor leaves).
ok "damage a bitmap checksum" debugfs -w -R "set_bg 0 block_bitmap_csum 0x1234" w.img
fails "e2fsck -fn sees the damage" 4 e2fsck -fn w.img
fails_with "check: damage found, exit 1" 1 "fs check --repair" vmkit fs check w.img
ok "damaged: ls still works" vmkit fs ls w.img:/
eq "damaged: cat still reads the file" "$(vmkit fs cat w.img:/f | cmp - data && echo same)" same
fails_with "damaged: writing refused" 1 "vmkit fs check --repair w.img" vmkit fs put data w.img:/g
fails_with "damaged: rm refused" 1 "can be read but not written" vmkit fs rm w.img:/f
fails "check alone changed nothing" 4 e2fsck -fn w.img
fails_with "check --repair: exit 0, repaired" 0 "errors repaired" vmkit fs check --repair w.img
ok "e2fsck: clean after repair" e2fsck -fn w.img
ok "content kept" same w.img
ok "check --repair of a clean filesystem: exit 0" vmkit fs check --repair w.img
ok "writable again" vmkit fs put data w.img:/g

# A leak and a directory entry pointing at a cleared inode.
ok "clear an inode" debugfs -w -R "clri /g" w.img
fails "e2fsck -fn: errors" 4 e2fsck -fn w.img
fails "check: exit 1" 1 vmkit fs check w.img
ok "repair" vmkit fs check --repair w.img
ok "e2fsck clean after repairing a cleared inode" e2fsck -fn w.img
ok "the other file is intact" same w.img

# --- partition of a raw image ---------------------------------------------
truncate -s 48M p.img
ok "gpt" vmkit part init p.img gpt
ok "partition" vmkit part add p.img --size 20M
ok "mkfs ext4 on p.img:1" vmkit fs mkfs -t ext4 p.img:1
ok "put in p.img:1" vmkit fs put data p.img:1:/f
head -c 1048576 p.img >head.before
ok "check p.img:1" vmkit fs check p.img:1
ok "damage p.img:1" debugfs -w -R "set_bg 1 inode_bitmap_csum 0x4321" "$(off p.img)"
fails "e2fsck sees it" 4 e2fsck -fn "$(off p.img)"
fails "check p.img:1: exit 1" 1 vmkit fs check p.img:1
ok "repair p.img:1" vmkit fs check --repair p.img:1
ok "e2fsck clean after repair (raw partition)" e2fsck -fn "$(off p.img)"
ok "partition table untouched" cmp head.before <(head -c 1048576 p.img)
ok "sfdisk still reads the table" sfdisk -d p.img

# fs resize: grow into a grown partition, then shrink.
bs=$(bsize "$(off p.img)")
ok "part resize to 40M" vmkit part resize p.img 1 40M
ok "fs resize p.img:1 (to the partition)" vmkit fs resize p.img:1
eq "grown to 40M" "$(blocks "$(off p.img)")" $((40 * 1024 * 1024 / bs))
ok "e2fsck clean after growing" e2fsck -fn "$(off p.img)"
has "fs df shows the new size" "$(vmkit fs df p.img:1)" "$((40 * 1024 * 1024))"
ok "content kept after growing" same "$(off p.img)"
ok "fs resize p.img:1 16M (shrink)" vmkit fs resize p.img:1 16M
eq "shrunk to 16M" "$(blocks "$(off p.img)")" $((16 * 1024 * 1024 / bs))
ok "e2fsck clean after shrinking" e2fsck -fn "$(off p.img)"
ok "content kept after shrinking" same "$(off p.img)"
fails_with "larger than the partition: refused" 1 "do not fit" vmkit fs resize p.img:1 41M
fails "bad size: usage" 2 vmkit fs resize p.img:1 12Q
ok "damage before resize" debugfs -w -R "set_bg 0 block_bitmap_csum 0x1" "$(off p.img)"
fails_with "resize of a damaged filesystem refused" 1 "check --repair" vmkit fs resize p.img:1
eq "refused resize left the size" "$(blocks "$(off p.img)")" $((16 * 1024 * 1024 / bs))

# --- partition of a qcow2 -------------------------------------------------
ok "qcow2" qemu-img create -q -f qcow2 q.qcow2 64M
ok "gpt in qcow2" vmkit part init q.qcow2 gpt
ok "partition in qcow2" vmkit part add q.qcow2 --size 24M
ok "mkfs ext4 in q.qcow2:1" vmkit fs mkfs -t ext4 q.qcow2:1
ok "put in q.qcow2:1" vmkit fs put data q.qcow2:1:/f
ok "check q.qcow2:1" vmkit fs check q.qcow2:1
# Damage through a raw round trip, as the real debugfs cannot write qcow2.
qemu-img convert -O raw q.qcow2 q.raw
ok "damage the raw copy" debugfs -w -R "clri /f" "$(off q.raw)"
rm -f q.qcow2
ok "back to qcow2" qemu-img convert -O qcow2 q.raw q.qcow2
fails "check q.qcow2:1: exit 1" 1 vmkit fs check q.qcow2:1
ok "damaged qcow2: ls still works" vmkit fs ls q.qcow2:1:/
ok "repair q.qcow2:1" vmkit fs check --repair q.qcow2:1
ok "qemu-img check clean after repair" qemu-img check -q q.qcow2
qemu-img convert -O raw q.qcow2 q.raw
ok "e2fsck clean after repair (qcow2 partition)" e2fsck -fn "$(off q.raw)"
ok "part resize q.qcow2 1 48M" vmkit part resize q.qcow2 1 48M
ok "fs resize q.qcow2:1" vmkit fs resize q.qcow2:1
qemu-img convert -O raw q.qcow2 q.raw
bs=$(bsize "$(off q.raw)")
eq "qcow2 partition grown to 48M" "$(blocks "$(off q.raw)")" $((48 * 1024 * 1024 / bs))
ok "e2fsck clean after growing in qcow2" e2fsck -fn "$(off q.raw)"
ok "qemu-img check clean after growing" qemu-img check -q q.qcow2

# --- FAT ------------------------------------------------------------------
truncate -s 32M f.img
ok "mkfs vfat" vmkit fs mkfs -t vfat f.img
ok "put on FAT" vmkit fs put data f.img:/f
ok "fsck.fat clean" fsck.fat -n f.img
ok "check FAT: exit 0" vmkit fs check f.img
# Make the second FAT differ from the first.
fat2=$(python3 -c '
import struct,sys
b=open("f.img","rb").read(512)
rs,nf=struct.unpack_from("<H",b,14)[0],b[16]
fs=struct.unpack_from("<H",b,22)[0] or struct.unpack_from("<I",b,36)[0]
print((rs+fs)*struct.unpack_from("<H",b,11)[0]+8)')
printf '\x77\x77' | dd of=f.img bs=1 seek="$fat2" conv=notrunc 2>/dev/null
fails "fsck.fat sees the damage" 1 fsck.fat -n f.img
fails "check FAT damaged: exit 1" 1 vmkit fs check f.img
ok "repair FAT" vmkit fs check --repair f.img
ok "fsck.fat clean after repair" fsck.fat -n f.img
eq "FAT content kept" "$(mtools_skip_check=1 mtype -i f.img ::/f | cmp - data && echo same)" same

# --- usage and what has no checker ----------------------------------------
fails "check: no target: usage" 2 vmkit fs check
fails "check: bad option: usage" 2 vmkit fs check --frobnicate w.img
truncate -s 8M s.img
ok "mkswap" vmkit fs mkfs -t swap s.img
fails_with "swap: no checker" 1 "no checker" vmkit fs check s.img
fails_with "swap: no resize" 1 "not supported" vmkit fs resize s.img
fails_with "no image" 1 "" vmkit fs check nonexistent.img
finish
