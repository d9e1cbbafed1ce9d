#!/bin/bash
# vmkit img on raw images: create (legacy sizes), info, map, convert
# (sparseness), compare, resize; checked against qemu-img.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1

ok "create raw 3950M" vmkit img create bigfile 3950M
eq "3950M is 4141875200 bytes" "$(stat -c %s bigfile)" 4141875200
eq "raw create is sparse" "$(kbytes bigfile)" 0
ok "create with a byte count" vmkit img create exact 4141875200
eq "byte count kept" "$(stat -c %s exact)" 4141875200
ok "create 4G" vmkit img create four 4G
eq "4G" "$(stat -c %s four)" 4294967296
ok "create --prealloc falloc" vmkit img create --prealloc falloc pre 2M
eq "falloc allocates" "$(kbytes pre)" 2048
same_info "raw info" bigfile
eq "info json virtual-size" "$(vinfo exact virtual-size)" 4141875200
has "info human" "$(vmkit img info bigfile)" "virtual size: 3.86 GiB (4141875200 bytes)"
rm -f bigfile exact four pre

# A sparse 64M raw with mixed content (written by qemu-img + python).
ok "qemu-img create src.raw" qemu-img create -q -f raw src.raw 64M
ok "fill src.raw" fill src.raw
ok "convert raw->raw" vmkit img convert src.raw out.raw
both_compare "converted raw" src.raw out.raw
eq "same size" "$(stat -c %s out.raw)" "$(stat -c %s src.raw)"
# src holds ~5.2M of data plus 2M of explicit zeroes; the copy skips them.
test "$(kbytes out.raw)" -lt 5800; ok "output stays sparse ($(kbytes out.raw)K)" test $? = 0
test "$(kbytes out.raw)" -lt "$(kbytes src.raw)"; ok "zero blocks not written" test $? = 0

# map agrees with qemu-img map on where data lives.
run_ok qm qemu-img map --output=json -f raw out.raw
run_ok vm vmkit img map --json out.raw
qmap=$(echo "$qm" | python3 -c '
import json,sys
print(" ".join("%d+%d" % (e["start"], e["length"]) for e in json.load(sys.stdin) if e["data"]))')
vmap=$(echo "$vm" | python3 -c '
import json,sys
print(" ".join("%d+%d" % (e["start"], e["length"]) for e in json.load(sys.stdin) if e["data"]))')
eq "map data runs agree with qemu-img map" "$vmap" "$qmap"
has "human map header" "$(vmkit img map out.raw)" "Offset          Length          Mapped to       File"
has "human map lists the 3M random run" "$(vmkit img map out.raw)" "0x100000        0x300000        0x100000        out.raw"

# compare: offsets of the first difference, sizes that differ.
cp --sparse=always out.raw diff.raw
printf 'X' | dd of=diff.raw bs=1 seek=6000000 conv=notrunc status=none
both_compare "one byte changed" out.raw diff.raw
vmkit img compare out.raw diff.raw >cmp.out; eq "compare exits 1 on mismatch" $? 1
eq "mismatch offset (sector, as qemu-img)" "$(cat cmp.out)" "Content mismatch at offset 5999616!"
ok "qemu-img create longer.raw" qemu-img create -q -f raw longer.raw 80M
ok "copy out.raw into it" dd if=out.raw of=longer.raw conv=notrunc,sparse status=none
both_compare "longer image with zero tail" out.raw longer.raw
printf 'Y' | dd of=longer.raw bs=1 seek=70000001 conv=notrunc status=none
both_compare "longer image with data in its tail" out.raw longer.raw
both_compare "shorter first" longer.raw out.raw

# resize: grow, shrink over zeroes, refuse to drop data, --shrink.
cp --sparse=always out.raw r.raw
ok "grow by +16M" vmkit img resize r.raw +16M
eq "grown" "$(stat -c %s r.raw)" $((80 << 20))
ok "shrink -8M over a hole" vmkit img resize r.raw -- -8M
eq "shrunk" "$(stat -c %s r.raw)" $((72 << 20))
fails_with "shrink over data refused" 1 "--shrink" vmkit img resize r.raw 8M
eq "size unchanged after refusal" "$(stat -c %s r.raw)" $((72 << 20))
ok "--shrink drops data" vmkit img resize --shrink r.raw 8M
eq "shrunk to 8M" "$(stat -c %s r.raw)" $((8 << 20))
ok "resize to absolute size" vmkit img resize r.raw 64M
ok "head still identical" cmp -n $((8 << 20)) r.raw out.raw
ok "raw check has nothing to report" vmkit img check out.raw

# A partition as convert source and info target.
ok "qemu-img create disk.raw" qemu-img create -q -f raw disk.raw 32M
ok_in "sfdisk partitions disk.raw" 'label: dos\nstart=2048, size=20480, type=83\n' sfdisk -q disk.raw
dd if=/dev/urandom of=disk.raw bs=512 seek=4096 count=100 conv=notrunc status=none
has "info disk:1 offset" "$(vmkit img info disk.raw:1)" "offset: 1048576 bytes"
has "info disk:1 size" "$(vmkit img info disk.raw:1)" "(10485760 bytes)"
ok "convert a partition" vmkit img convert disk.raw:1 part.raw
eq "partition image size" "$(stat -c %s part.raw)" 10485760
ok "partition content" cmp part.raw <(dd if=disk.raw bs=512 skip=2048 count=20480 status=none)

# Progress bar: -p draws it even without a terminal.
ok "convert -p" vmkit img convert -p src.raw p.raw
has "progress reaches 100%" "$(vmkit img convert -p src.raw p2.raw 2>&1)" "(100.0/100%)"
none "no progress bar when not a terminal" vmkit img convert src.raw p3.raw
finish
