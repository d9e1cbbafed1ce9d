#!/bin/bash
# Damaged tables: clear errors naming the partition, sectors or header
# field, exit 1, no crash, nothing written.  Inputs are the fuzz seeds
# (fuzz/corpus/fuzz_{mbr,gpt}/: 64 KiB disks) plus a few made here.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
M=$TOP/fuzz/corpus/fuzz_mbr
G=$TOP/fuzz/corpus/fuzz_gpt
ok "copy the fuzz seeds" sh -c 'cp "$1"/* . && cp "$2"/* .' _ "$M" "$G"
cp "$M/overlap" mbr-overlap; cp "$M/pastend" mbr-pastend; cp "$G/overlap" gpt-overlap; cp "$G/pastend" gpt-pastend

fails_with "MBR overlap names both partitions" 1 "partition 2 (sectors 20-59) overlaps partition 1 (sectors 4-43)" vmkit part list mbr-overlap
fails_with "MBR past the end" 1 "partition 1 (sectors 4-4003) ends beyond the last usable sector 127" vmkit part list mbr-pastend
fails_with "looping EBR chain" 1 "chain loops back to the EBR at sector 10" vmkit part list loop
fails_with "EBR outside the extended partition" 1 "EBR at sector 90010 lies outside extended partition 1" vmkit part list badchain
fails_with "GPT overlap" 1 "partition 2 (sectors 30-60) overlaps partition 1 (sectors 8-40)" vmkit part list gpt-overlap
fails_with "GPT past the end" 1 "partition 1 (sectors 8-4000) ends beyond the last usable sector 122" vmkit part list gpt-pastend
fails_with "entries CRC wrong in both copies" 1 "partition entries CRC mismatch" vmkit part list badentcrc
fails_with "DISK:N on a damaged table fails the same way" 1 "partition entries CRC mismatch" vmkit part list badentcrc:1
ok "logical partitions of the seed list" vmkit part list logicals
run_ok vd vmkit part dump logicals
run_ok sd sfdisk -d logicals
eq "seed logicals as sfdisk sees them" "$(echo "$vd" | grep -c '^logicals[56] ')" "$(echo "$sd" | grep -c '^logicals[56] ')"
eq "... two of them" "$(echo "$sd" | grep -c '^logicals[56] ')" 2

# Primary header damaged, backup good: warning, listing, verify, repair.
for f in badhdrcrc hugecount badentsize; do
    out=$(vmkit part list $f 2>&1)
    has "$f: warns and uses the backup" "$out" "primary GPT header damaged"
    has "$f: still lists" "$out" "Disklabel type: gpt"
    fails "$f: verify reports it" 1 vmkit part verify $f
    ok "$f: verify --repair" vmkit part verify --repair $f
    ok "$f: clean afterwards" vmkit part verify $f
    has "$f: sgdisk -v after repair" "$(sgdisk -v $f 2>&1)" "No problems found"
done
has "absurd count is named" "$(vmkit part list "$G/hugecount" 2>&1)" "absurd partition entry count 4294967295"
has "bad entry size is named" "$(vmkit part list "$G/badentsize" 2>&1)" "bad partition entry size 1"

# Both headers with an absurd entry count (CRCs right): refused.
python3 - "$G/valid" both-huge both-crc <<'PY'
import sys, struct, zlib
d = bytearray(open(sys.argv[1], 'rb').read())
n = len(d) // 512
def patch(d, off, fn):
    h = d[off:off + 92]
    fn(h)
    h[16:20] = b'\0' * 4
    h[16:20] = struct.pack('<I', zlib.crc32(bytes(h)))
    d[off:off + 92] = h
e = bytearray(d)
for lba in (1, n - 1):
    patch(e, lba * 512, lambda h: h.__setitem__(slice(80, 84), struct.pack('<I', 0xffffffff)))
open(sys.argv[2], 'wb').write(e)
c = bytearray(d)
for lba in (1, n - 1):
    c[lba * 512 + 16] ^= 0xff
open(sys.argv[3], 'wb').write(c)
PY
fails_with "2^32-1 entries in both headers" 1 "absurd partition entry count 4294967295" vmkit part list both-huge
fails_with "header CRC wrong in both copies" 1 "header CRC mismatch" vmkit part verify both-crc

# Refused edits write nothing.
for f in mbr-overlap gpt-overlap loop badentcrc; do
    sum=$(md5sum <$f)
    fails "$f: add refused" 1 vmkit part add $f --size 1K
    fails_with "$f: load refused" 1 "$f" sh -c "echo 'label: dos' | '$VMKIT' part load $f"
    eq "$f: unchanged" "$(md5sum <$f)" "$sum"
done
truncate -s 8M ok.img
ok "init ok.img" vmkit part init ok.img mbr
ok "add to ok.img" vmkit part add ok.img --size 2M
sum=$(md5sum <ok.img)
fails_with "overlapping script refused" 1 "partition 2: start sector 3000 is inside partition 1 (sectors 2048-6143)" \
    sh -c "printf 'label: dos\nstart=2048, size=4096, type=83\nstart=3000, size=2000, type=83\n' | $VMKIT part load ok.img"
fails_with "script past the end refused" 1 "partition 1 (sectors 2048-42047) does not fit: the free space ends at sector 16383" \
    sh -c "printf 'label: dos\nstart=2048, size=40000, type=83\n' | $VMKIT part load ok.img"
fails_with "bad script field" 1 "unknown field 'colour'" sh -c "printf 'label: dos\nstart=2048, colour=red\n' | $VMKIT part load ok.img"
eq "table untouched by refused loads" "$(md5sum <ok.img)" "$sum"
truncate -s 1M blank.img
fails_with "blank disk has no table" 1 "blank.img: no partition table" vmkit part list blank.img
fails_with "tiny disk refused" 1 "too small" sh -c "truncate -s 4K tiny.img && $VMKIT part init tiny.img gpt"

# The fuzz entry points over their seeds (as make check replays them).
for f in fuzz_mbr fuzz_gpt; do
    b=$(dirname "$VMKIT")/replay/$f
    ok "$f replays its corpus and the other's" "$b" "$M"/* "$G"/*
done
finish
