#!/bin/bash
# VDI (VirtualBox) images, with qemu-img as the oracle both ways:
# - images qemu-img makes (dynamic, static) are read by vmkit: info agrees,
#   map agrees, and vmkit's raw copy is what qemu-img compare calls equal
#   to the source;
# - images vmkit makes (create, convert, -o static=on) pass qemu-img check
#   and compare equal to their source;
# - part and fs work inside a VDI (ext4 in a partition; e2fsck -fn on
#   qemu-img's raw copy), resize grows and shrinks, check reports damage;
# - bad input (truncated, block map past the end of the file, entries
#   shared or out of range, block size out of range) is refused with a
#   message naming the file and offset, exit 1, the image unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1
need qemu-img e2fsck python3 || { finish; exit; }

ok "source image" truncate -s 24M src.raw
fill src.raw

# --- qemu-img's images, read by vmkit ---
for v in dyn:"" static:"-o static=on"; do
    n=${v%%:*}; o=${v#*:}
    ok "qemu-img convert -O vdi $o" qemu-img convert -O vdi $o src.raw q-$n.vdi
    eq "q-$n.vdi: probed as vdi" "$(vinfo q-$n.vdi format)" vdi
    same_info "q-$n.vdi" q-$n.vdi
    eq "q-$n.vdi: dirty-flag as qemu-img" "$(vinfo q-$n.vdi dirty-flag)" "$(qinfo q-$n.vdi dirty-flag)"
    ok "vmkit reads q-$n.vdi into raw" vmkit img convert -O raw q-$n.vdi q-$n.raw
    ok "qemu-img compare: vmkit's raw of q-$n.vdi = source" qemu-img compare -f raw -F raw src.raw q-$n.raw
    both_compare "q-$n.vdi vs source" src.raw q-$n.vdi
    has "vmkit img check q-$n.vdi" "$(vmkit img check q-$n.vdi)" "No errors were found on the image."
done
run_ok vm vmkit img map --json q-dyn.vdi
run_ok qm qemu-img map --output=json q-dyn.vdi
eq "map data runs agree with qemu-img" "$(echo "$vm" | map_runs)" "$(echo "$qm" | map_runs)"

# --- vmkit's images, checked by qemu-img ---
ok "vmkit img create -f vdi" vmkit img create -f vdi c.vdi 100M
qcheck "qemu-img check: created dynamic" c.vdi
eq "created: qemu-img size" "$(qinfo c.vdi virtual-size)" $((100 << 20))
eq "created: cluster size" "$(qinfo c.vdi cluster-size)" 1048576
ok "vmkit img create -f vdi -o static=on" vmkit img create -f vdi -o static=on cs.vdi 10M
qcheck "qemu-img check: created static" cs.vdi
eq "static: every block allocated (qemu-img map)" \
    "$(qemu-img map --output=json cs.vdi | map_runs)" "0+$((10 << 20))"
for v in dyn:"" static:"-o static=on"; do
    n=${v%%:*}; o=${v#*:}
    ok "vmkit convert raw -> vdi $o" vmkit img convert -O vdi $o src.raw v-$n.vdi
    qcheck "qemu-img check: v-$n.vdi" v-$n.vdi
    ok "qemu-img compare: v-$n.vdi = source" qemu-img compare -f raw src.raw v-$n.vdi
    same_info "v-$n.vdi" v-$n.vdi
    ok "vdi -> raw by vmkit ($n)" vmkit img convert -O raw v-$n.vdi v-$n.raw
    ok "round trip ($n) byte-identical" cmp src.raw v-$n.raw
done
eq "dynamic VDI no larger than qemu-img's" \
    "$([ "$(stat -c %s v-dyn.vdi)" -le "$(stat -c %s q-dyn.vdi)" ] && echo yes)" yes
eq "static VDI file as large as qemu-img's" "$(stat -c %s v-static.vdi)" "$(stat -c %s q-static.vdi)"
ok "vdi -> qcow2 -> vdi" vmkit img convert -O qcow2 v-dyn.vdi v.qcow2
ok "... back to vdi" vmkit img convert -O vdi v.qcow2 v2.vdi
ok "qemu-img compare: vdi -> qcow2 -> vdi" qemu-img compare src.raw v2.vdi

# --- random writes (tests/tools/vkio) through vmkit and, with plain
# pwrite, into a raw copy: qemu-img must find them equal and qemu-img check clean ---
VKIO=$(dirname "$VMKIT")/tools/vkio
N=$(pick 40 20 200)
for base in q-dyn.vdi q-static.vdi; do
    for seed in 1 2; do
        cp $base t.img && ok "raw reference of $base" qemu-img convert -O raw -f vdi $base ref.raw
        torture_script $seed $N "$(stat -c %s ref.raw)" >s$seed
        ok "$base, script $seed: vkio through vmkit" "$VKIO" t.img vdi <s$seed
        ok "$base, script $seed: vkio plain" "$VKIO" ref.raw plain <s$seed
        ok "$base, script $seed: qemu-img compare" qemu-img compare -f raw -F vdi ref.raw t.img
        qcheck "$base, script $seed: qemu-img check" t.img
    done
done

# --- partitions and filesystems inside a VDI ---
ok "create disk.vdi" vmkit img create -f vdi disk.vdi 64M
ok "part init" vmkit part init disk.vdi mbr
run_ok pn vmkit part add disk.vdi --size 40M
ok "mkfs ext4 in disk.vdi:1" vmkit fs mkfs -t ext4 -L vditest disk.vdi:1
echo "hello from a VDI" >hello.txt
ok "fs put into the VDI" vmkit fs put hello.txt disk.vdi:1:/hello.txt
eq "fs cat reads it back" "$(vmkit fs cat disk.vdi:1:/hello.txt)" "hello from a VDI"
qcheck "qemu-img check: disk.vdi after part+fs" disk.vdi
ok "qemu-img convert disk.vdi -> raw" qemu-img convert -O raw disk.vdi disk.raw
run_ok pl sfdisk --json disk.raw
start=$(echo "$pl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["start"])')
ok "partition 1 extracted" dd if=disk.raw of=p1.raw bs=512 skip="$start" count=$((40 << 11)) status=none
ok "e2fsck -fn on qemu-img's raw copy" e2fsck -fn p1.raw
has "debugfs sees the file" "$(debugfs -R 'cat /hello.txt' p1.raw 2>/dev/null)" "hello from a VDI"

# --- resize ---
cp v-dyn.vdi r.vdi
ok "grow +40M" vmkit img resize r.vdi +40M
eq "grown (qemu-img)" "$(qinfo r.vdi virtual-size)" $((64 << 20))
qcheck "qemu-img check: grown" r.vdi
ok "qemu-img compare after grow" qemu-img compare src.raw r.vdi
fails_with "shrink over data refused" 1 "r.vdi: shrinking would discard data" vmkit img resize r.vdi 8M
eq "size unchanged after refusal" "$(qinfo r.vdi virtual-size)" $((64 << 20))
ok "shrink with --shrink" vmkit img resize --shrink r.vdi 8M
eq "shrunk (qemu-img)" "$(qinfo r.vdi virtual-size)" $((8 << 20))
qcheck "qemu-img check: shrunk" r.vdi
ok "grow again" vmkit img resize r.vdi 24M
ok "expected: the first 8M" sh -c "head -c $((8 << 20)) src.raw >head.raw && truncate -s 24M head.raw"
ok "qemu-img compare: first 8M kept, what was cut off reads as zeroes" qemu-img compare head.raw r.vdi
fails_with "a static VDI is not resized" 1 "fixed (static) VDI cannot be resized" vmkit img resize v-static.vdi +1M
# Shrinking keeps the data blocks dense (0..allocated-1), as VirtualBox and
# QEMU allocate: written back to front, the first blocks have the highest
# data indexes; qemu-io's next new block must not land on a kept one.
qemu-img create -q -f vdi d.vdi 64M
for o in 60 50 40 30 20 10 0; do qemu-io -c "write -P $((o + 1)) ${o}M 1M" d.vdi >/dev/null; done
qemu-img convert -O raw d.vdi d.raw
ok "shrink a back-to-front image" vmkit img resize --shrink d.vdi 32M
qcheck "qemu-img check: shrunk, compacted" d.vdi
eq "file cut after the 4 kept blocks" "$(stat -c %s d.vdi)" $((1024 + (4 << 20)))
ok "qemu-io writes two new blocks" qemu-io -c 'write -P 0x77 5M 1M' -c 'write -P 0x78 25M 1M' d.vdi
ok "expected view" python3 -c "
f = open('d.raw', 'r+b'); f.truncate(32 << 20)
for off, v in ((5, 0x77), (25, 0x78)): f.seek(off << 20); f.write(bytes([v]) * (1 << 20))"
ok "qemu-img compare: kept blocks intact, new ones where qemu put them" qemu-img compare d.raw d.vdi

# Growing past the room in the block map (qemu-img leaves room up to the
# next 128 MiB): the map moves to where the first data block was.
ok "vdi for growing" vmkit img convert -O vdi src.raw g.vdi
ok "grow past the block map's room (64M -> 1G)" vmkit img resize g.vdi 1G
qcheck "qemu-img check: map moved" g.vdi
eq "qemu-img: 1 GiB" "$(qinfo g.vdi virtual-size)" $((1 << 30))
cp src.raw g.raw && truncate -s 1G g.raw
ok "qemu-img compare after the map moved" qemu-img compare g.raw g.vdi
ok "qemu-io writes past the old end" qemu-io -c 'write -P 0x5a 900M 3M' g.vdi
qcheck "qemu-img check: after qemu's writes" g.vdi
ok "vmkit reads qemu's writes" vmkit img convert -O raw g.vdi g2.raw
ok "expected view" python3 -c "
f = open('g.raw', 'r+b'); f.seek(900 << 20); f.write(b'Z' * (3 << 20))"
ok "vmkit's read equals it" cmp g.raw g2.raw
# a full image: every block of the old map allocated, so the first block
# moves past the old block count
qemu-img create -q -f vdi full.vdi 128M
ok "fill all 128 blocks" qemu-io -c 'write -P 0x33 0 128M' full.vdi
ok "grow the full image to 300M" vmkit img resize full.vdi 300M
qcheck "qemu-img check: full image grown" full.vdi
ok "expected" sh -c "head -c 128M /dev/zero | tr '\\0' '3' >full.raw && truncate -s 300M full.raw"
ok "qemu-img compare: full image grown" qemu-img compare full.raw full.vdi
ok "grow to 200G (the map moves again)" vmkit img resize full.vdi 200G
ok "and to 2T" vmkit img resize full.vdi 2T
qcheck "qemu-img check: 2T" full.vdi
truncate -s 2T full.raw
ok "qemu-img compare at 2T" qemu-img compare full.raw full.vdi

# --- bad input: exit 1, a message naming file and offset, image unchanged ---
bad() {  # DESC FILE MESSAGE
    s=$(md5sum <"$2")
    fails_with "$1: info" 1 "$3" vmkit img info "$2"
    fails_with "$1: convert" 1 "$3" vmkit img convert "$2" "$2.out"
    ok "$1: no output left" test ! -e "$2.out"
    fails_with "$1: fs ls" 1 "$3" vmkit fs ls "$2:/"
    fails_with "$1: resize" 1 "$3" vmkit img resize "$2" +1M
    unchanged "$1: image unchanged" "$2" "$s"
}
size=$(stat -c %s q-dyn.vdi)
cp q-dyn.vdi trunc.vdi && truncate -s $((size - 4096)) trunc.vdi
bad "truncated" trunc.vdi "trunc.vdi: block map entry"
has "truncated: says past the end" "$(vmkit img info trunc.vdi 2>&1)" "points past the end of the file"
cp q-dyn.vdi bs.vdi && poke bs.vdi 376 "<I" 3
bad "block size 3" bs.vdi "bs.vdi: block size 3 at offset 376 is out of range"
cp q-dyn.vdi bs2.vdi && poke bs2.vdi 376 "<I" 0x80000000
bad "block size 2G" bs2.vdi "bs2.vdi: block size 2147483648 at offset 376 is out of range"
cp q-dyn.vdi map.vdi && poke map.vdi 384 "<I" 0x3ffffff0 && poke map.vdi 344 "<I" 0xfffffe00
bad "block map past EOF" map.vdi "map.vdi: the block map at offset 512"
cp q-dyn.vdi dup.vdi && poke dup.vdi 516 "<I" 0
bad "two blocks on one data block" dup.vdi "dup.vdi: block map entry 1 (offset 516, value 0) points at a data block another entry uses"
cp q-dyn.vdi big.vdi && poke big.vdi 512 "<I" 1000
bad "entry beyond the block count" big.vdi "big.vdi: block map entry 0 (offset 512, value 1000) points past the end of the file"
cp q-dyn.vdi huge.vdi && poke huge.vdi 512 "<I" 0xfffff000
bad "entry far beyond the block count" huge.vdi "huge.vdi: block map entry 0 (offset 512, value 4294963200) names a data block beyond the block count"
fails "check reports the shared block" 2 vmkit img check dup.vdi
fails "qemu-img check agrees" 2 qemu-img check dup.vdi
head -c 300 q-dyn.vdi >short.vdi
fails_with "300-byte file" 1 "short.vdi: truncated VDI image (300 bytes" vmkit img info -f vdi short.vdi
fails_with "cluster_size other than 1M refused" 1 "block size must be 1 MiB" \
    vmkit img create -f vdi -o cluster_size=64K cl.vdi 10M
ok "nothing created" test ! -e cl.vdi
finish
