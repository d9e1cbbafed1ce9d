#!/bin/bash
# VHD images (qemu-img's vpc), fixed and dynamic, with qemu-img as the
# oracle both ways (vpc has no qemu-img check: compare is the proof):
# - images qemu-img makes (dynamic, fixed, force_size) are read by vmkit:
#   info (size by QEMU's CHS/current_size rules) and map agree, vmkit's
#   raw copy compares equal to the source;
# - images vmkit makes (create, convert, subformat=fixed, force_size) have
#   the size and geometry qemu-img computes and compare equal;
# - part and fs work inside a VHD;
# - bad input (truncated, BAT past the end, blocks on top of each other,
#   block size out of range, bad checksum) is refused, exit 1, unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1
need qemu-img e2fsck python3 || { finish; exit; }

ok "source image" truncate -s 20M src.raw
fill src.raw
# geom FILE: the footer's cylinders/heads/sectors and creator application.
geom() {
    python3 -c '
import struct,sys
d=open(sys.argv[1],"rb").read()
f=d[:512] if d[:8]==b"conectix" else d[-512:]
c,h,s=struct.unpack(">HBB",f[56:60]); print(c,h,s,f[28:32].decode(),struct.unpack(">Q",f[48:56])[0])' "$1"
}

# --- qemu-img's images, read by vmkit ---
for v in dyn:"" fixed:"-o subformat=fixed" force:"-o force_size=on" ffix:"-o subformat=fixed,force_size=on"; do
    n=${v%%:*}; o=${v#*:}
    ok "qemu-img convert -O vpc $o" qemu-img convert -O vpc $o src.raw q-$n.vhd
    for k in virtual-size cluster-size; do
        eq "q-$n.vhd: $k as qemu-img" "$(vmkit img info -f vpc --json q-$n.vhd | _jkey "$(cat)" $k)" \
            "$(qinfo q-$n.vhd $k vpc)"
    done
    ok "vmkit reads q-$n.vhd into raw" vmkit img convert -f vpc -O raw q-$n.vhd q-$n.raw
    ok "qemu-img compare: vmkit's raw of q-$n.vhd = source" qemu-img compare -f raw -F raw src.raw q-$n.raw
done
eq "dynamic: probed as vpc" "$(vinfo q-dyn.vhd format)" vpc
eq "fixed: probed as raw, as qemu-img does" "$(vinfo q-fixed.vhd format)" "$(qinfo q-fixed.vhd format)"
run_ok vm vmkit img map --json q-dyn.vhd
run_ok qm qemu-img map --output=json q-dyn.vhd
eq "map data runs agree with qemu-img" "$(echo "$vm" | map_runs)" "$(echo "$qm" | map_runs)"

# --- vmkit's images, compared by qemu-img ---
for sz in 10M 100M 1000M 1G 4G 127G; do
    ok "qemu-img create vpc $sz" qemu-img create -q -f vpc q$sz.vhd $sz
    ok "vmkit create vpc $sz" vmkit img create -f vpc v$sz.vhd $sz
    eq "$sz: geometry, creator and size as qemu-img" "$(geom v$sz.vhd)" "$(geom q$sz.vhd)"
    eq "$sz: qemu-img reads the same size" "$(qinfo v$sz.vhd virtual-size)" "$(qinfo q$sz.vhd virtual-size)"
    eq "$sz: same file size" "$(stat -c %s v$sz.vhd)" "$(stat -c %s q$sz.vhd)"
done
ok "vmkit create vpc force_size" vmkit img create -f vpc -o force_size=on vf.vhd 1000M
eq "force_size: exact size for qemu-img" "$(qinfo vf.vhd virtual-size)" $((1000 << 20))
eq "force_size: qem2, maximum geometry" "$(geom vf.vhd)" "65535 16 255 qem2 $((1000 << 20))"
ok "vmkit create fixed" vmkit img create -f vpc -o subformat=fixed vx.vhd 10M
eq "fixed: qemu-img -f vpc size" "$(qinfo vx.vhd virtual-size vpc)" "$(qinfo q10M.vhd virtual-size)"
eq "fixed: file is disk + footer" "$(stat -c %s vx.vhd)" $(( $(qinfo q10M.vhd virtual-size) + 512 ))
for v in dyn:"" fixed:"-o subformat=fixed" force:"-o force_size=on"; do
    n=${v%%:*}; o=${v#*:}
    ok "vmkit convert raw -> vpc $o" vmkit img convert -O vpc $o src.raw v-$n.vhd
    ok "qemu-img compare: v-$n.vhd = source" qemu-img compare -f raw -F vpc src.raw v-$n.vhd
    eq "v-$n.vhd: same size as qemu-img's" "$(qinfo v-$n.vhd virtual-size vpc)" "$(qinfo q-$n.vhd virtual-size vpc)"
    ok "vpc -> raw by vmkit ($n)" vmkit img convert -f vpc -O raw v-$n.vhd v-$n.raw
    ok "qemu-img compare: round trip ($n)" qemu-img compare -f raw -F raw src.raw v-$n.raw
done
eq "dynamic VHD no larger than qemu-img's" \
    "$([ "$(stat -c %s v-dyn.vhd)" -le "$(stat -c %s q-dyn.vhd)" ] && echo yes)" yes
eq "force_size: exact size" "$(qinfo v-force.vhd virtual-size)" $((20 << 20))
ok "qemu-img rewrites vmkit's VHD" qemu-img convert -O raw v-dyn.vhd back.raw
ok "... equal" cmp src.raw <(head -c $((20 << 20)) back.raw)

# --- random writes (tests/tools/vkio) through vmkit and, with plain
# pwrite, into a raw copy: qemu-img must find them equal ---
VKIO=$(dirname "$VMKIT")/tools/vkio
N=$(pick 40 20 200)
for base in q-dyn.vhd q-fixed.vhd; do
    for seed in 1 2; do
        cp $base t.img && ok "raw reference of $base" qemu-img convert -O raw -f vpc $base ref.raw
        torture_script $seed $N "$(stat -c %s ref.raw)" >s$seed
        ok "$base, script $seed: vkio through vmkit" "$VKIO" t.img vpc <s$seed
        ok "$base, script $seed: vkio plain" "$VKIO" ref.raw plain <s$seed
        ok "$base, script $seed: qemu-img compare" qemu-img compare -f raw -F vpc ref.raw t.img
    done
done

# --- partitions and filesystems inside a VHD ---
ok "create disk.vhd" vmkit img create -f vpc disk.vhd 64M
ok "part init" vmkit part init disk.vhd gpt
run_ok pn vmkit part add disk.vhd --size 40M
ok "mkfs ext4 in disk.vhd:1" vmkit fs mkfs -t ext4 disk.vhd:1
echo "hello from a VHD" >hello.txt
ok "fs put into the VHD" vmkit fs put hello.txt disk.vhd:1:/hello.txt
eq "fs cat reads it back" "$(vmkit fs cat disk.vhd:1:/hello.txt)" "hello from a VHD"
ok "qemu-img convert disk.vhd -> raw" qemu-img convert -O raw disk.vhd disk.raw
run_ok pl sfdisk --json disk.raw
start=$(echo "$pl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["start"])')
ok "partition 1 extracted" dd if=disk.raw of=p1.raw bs=512 skip="$start" count=$((40 << 11)) status=none
ok "e2fsck -fn on qemu-img's raw copy" e2fsck -fn p1.raw
has "debugfs sees the file" "$(debugfs -R 'cat /hello.txt' p1.raw 2>/dev/null)" "hello from a VHD"
ok "sgdisk -v on qemu-img's raw copy" sgdisk -v disk.raw

# --- resize: grows (qemu-img has no resize for vpc; Hyper-V's Resize-VHD) ---
# size_as ORIG VHD: ORIG's bytes, zero-extended to the VHD's virtual size
size_as() { cp "$1" "$1.x" && truncate -s "$(qinfo "$2" virtual-size vpc)" "$1.x"; }
for sub in dynamic fixed; do
    qemu-img create -q -f vpc -o subformat=$sub rs-$sub.vhd 100M
    qemu-io -f vpc -c 'write -P 0x41 1M 2M' -c 'write -P 0x42 90M 1M' rs-$sub.vhd >/dev/null
    qemu-img convert -f vpc -O raw rs-$sub.vhd rs-$sub.raw
    ok "resize -f vpc: $sub, 100M -> 5G" vmkit img resize -f vpc rs-$sub.vhd 5G
    eq "$sub: rounded up to a geometry, as qemu-img creates" "$(qinfo rs-$sub.vhd virtual-size vpc)" 5368946688
    eq "$sub: vmkit reads the same size" "$(vmkit img info -f vpc --json rs-$sub.vhd | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')" 5368946688
    size_as rs-$sub.raw rs-$sub.vhd
    ok "$sub: qemu-img compare: the data kept, the new space zeroes" qemu-img compare -f raw -F vpc rs-$sub.raw.x rs-$sub.vhd
    ok "$sub: qemu-io writes past the old end" qemu-io -f vpc -c 'write -P 0x43 4000M 3M' -c 'read -P 0x42 90M 1M' rs-$sub.vhd
done
eq "fixed: the file is the disk and one footer" "$(stat -c %s rs-fixed.vhd)" $((5368946688 + 512))
fails_with "shrinking a VHD is refused" 1 "VHD images are not shrunk" vmkit img resize -f vpc --shrink rs-dynamic.vhd 1G
# Hyper-V style (force_size): the exact size, no geometry rounding
qemu-img create -q -f vpc -o force_size=on hv.vhd 100M
ok "resize a force_size VHD to 1G" vmkit img resize hv.vhd 1G
eq "exactly 1 GiB" "$(qinfo hv.vhd virtual-size vpc)" $((1 << 30))
# the BAT is full (1 GiB in 2 MiB blocks: 512 entries, 4 sectors, the
# first block right behind): growing to 600G moves it behind the blocks
qemu-img create -q -f vpc full.vhd 1G
ok "fill it" qemu-io -f vpc -c 'write -P 7 0 1G' full.vhd
ok "resize the full VHD to 600G (the BAT moves)" vmkit img resize full.vhd 600G
eq "600 GiB: beyond the largest geometry, the current size (as qemu-img)" "$(qinfo full.vhd virtual-size vpc)" $((600 << 30))
ok "qemu-io: the old data, a write at 500G read back" \
    qemu-io -f vpc -c 'read -P 7 0 1G' -c 'write -P 9 500G 4M' -c 'read -P 9 500G 4M' full.vhd
# vmkit's writes into the moved BAT's image: random writes (vkio) through
# vmkit and into a raw copy, over the first 2 GiB, equal for qemu-img
qemu-img convert -f vpc -O raw full.vhd full.raw
torture_script 3 "$N" $((2 << 30)) >sfull
ok "vkio through vmkit into the grown image" "$VKIO" full.vhd vpc <sfull
ok "vkio plain into the raw copy" "$VKIO" full.raw plain <sfull
ok "qemu-img compare: vmkit's writes after the BAT moved" qemu-img compare -f raw -F vpc full.raw full.vhd

# --- VMs: QEMU is given the driver's format name (xl's vhd is QEMU's vpc) ---
ok "a VDI for the VM" vmkit img convert -O vdi disk.vhd disk.vdi
cat >vm.cfg <<CFG
name = "fmt"
memory = 64
disk = [ 'format=vdi, vdev=xvda, access=rw, target=$T/disk.vdi',
         'format=vhd, vdev=xvdb, access=rw, target=$T/disk.vhd',
         'format=vpc, vdev=xvdc, access=ro, target=$T/q-dyn.vhd' ]
CFG
mkdir -m 700 run
run_ok argv "$(dirname "$VMKIT")/tests/t_qemu_argv" vm.cfg run
has "format=vdi for the VDI" "$argv" "file=$T/disk.vdi,if=none,id=disk0,format=vdi"
has "format=vpc for xl's vhd" "$argv" "file=$T/disk.vhd,if=none,id=disk1,format=vpc"
has "format=vpc for vpc" "$argv" "file=$T/q-dyn.vhd,if=none,id=disk2,format=vpc,readonly=on"

# --- bad input ---
# rechecksum FILE OFFSET LEN FIELD: recompute a footer/header checksum.
rechecksum() {
    python3 -c '
import struct,sys
p,o,l,c=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4])
f=open(p,"r+b"); f.seek(o); b=bytearray(f.read(l)); b[c:c+4]=bytes(4)
f.seek(o+c); f.write(struct.pack(">I",~sum(b)&0xffffffff))' "$@"
}
bad() {  # DESC FILE MESSAGE
    s=$(md5sum <"$2")
    fails_with "$1: info" 1 "$3" vmkit img info "$2"
    fails_with "$1: convert" 1 "$3" vmkit img convert "$2" "$2.out"
    ok "$1: no output left" test ! -e "$2.out"
    fails_with "$1: part list" 1 "$3" vmkit part list "$2"
    unchanged "$1: image unchanged" "$2" "$s"
}
size=$(stat -c %s q-dyn.vhd)
cp q-dyn.vhd trunc.vhd && truncate -s $((size - 1024 * 1024)) trunc.vhd
bad "truncated" trunc.vhd "trunc.vhd: BAT entry"
cp q-dyn.vhd bs.vhd && poke bs.vhd $((512 + 32)) ">I" 1000 && rechecksum bs.vhd 512 1024 36
bad "block size 1000" bs.vhd "bs.vhd: block size 1000 (offset 544) is out of range"
cp q-dyn.vhd bs2.vhd && poke bs2.vhd $((512 + 32)) ">I" 0x40000000 && rechecksum bs2.vhd 512 1024 36
bad "block size 1G" bs2.vhd "bs2.vhd: block size 1073741824 (offset 544) is out of range"
cp q-dyn.vhd bat.vhd && poke bat.vhd $((512 + 16)) ">Q" $((size - 16)) && rechecksum bat.vhd 512 1024 36
bad "BAT past EOF" bat.vhd "bat.vhd: the BAT at offset"
b0=$(python3 -c 'import struct; d=open("q-dyn.vhd","rb").read(); print(struct.unpack(">I",d[1536:1540])[0])')
cp q-dyn.vhd dup.vhd && poke dup.vhd $((1536 + 4 * 5)) ">I" $((b0 + 8))
bad "blocks on top of each other" dup.vhd "which is already in use"
cp q-dyn.vhd meta.vhd && poke meta.vhd 1536 ">I" 2
bad "block on the dynamic header" meta.vhd "meta.vhd: BAT entry 0 (offset 1536) points at offset 1024, which is already in use"
cp q-dyn.vhd sum.vhd && poke sum.vhd 48 ">Q" 12345
bad "bad footer checksum" sum.vhd "sum.vhd: bad footer checksum"
cp q-fixed.vhd tfix.vhd && truncate -s 4M tfix.vhd
fails_with "fixed, truncated (-f vpc)" 1 "tfix.vhd: not a VHD image" vmkit img info -f vpc tfix.vhd
fails_with "force_size=maybe refused" 2 "force_size=maybe: expected on or off" \
    vmkit img create -f vpc -o force_size=maybe x.vhd 1M
fails_with "subformat=foo refused" 1 "VHD subformat 'foo'" vmkit img create -f vpc -o subformat=foo x.vhd 1M
ok "nothing created" test ! -e x.vhd
fails_with "over 2040 GiB refused" 1 "too large for VHD" vmkit img create -f vpc -o force_size=on x.vhd 3T
finish
