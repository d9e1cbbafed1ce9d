#!/bin/bash
# Regenerate the seeds of fuzz/corpus/fuzz_ext/ and fuzz/corpus/fuzz_fsprobe/:
# small filesystems mke2fs, mkfs.fat and mkswap write, holding files,
# directories (one big enough for an htree index), fast and slow symlinks,
# hard links, a sparse file and a device node.  Zero tails are cut (the
# entry points pad the disk with zeroes).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
EXT=$TOP/fuzz/corpus/fuzz_ext
PRB=$TOP/fuzz/corpus/fuzz_fsprobe
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
cd "$D"
mkdir -p "$EXT" "$PRB" src/dir/sub src/big
printf 'hello\n' >src/hello
head -c 5000 /dev/urandom >src/dir/blob
ln src/hello src/dir/hard
ln -s hello src/fast
ln -s "$(printf 'a%.0s' $(seq 1 100))/target" src/slow
truncate -s 300K src/sparse; printf 'end' >>src/sparse
for i in $(seq 1 40); do : >"src/big/file-with-a-long-name-$i"; done
trim() {  # FILE OUT: FILE without its zero tail
    python3 -c "
import sys
d = open(sys.argv[1], 'rb').read().rstrip(b'\0')
open(sys.argv[2], 'wb').write(d)" "$1" "$2"
}
mkext() {  # NAME SIZE mke2fs-options...
    n=$1 s=$2; shift 2
    rm -f "$n.img"; truncate -s "$s" "$n.img"
    mke2fs -q -F -d src "$@" "$n.img" 2>/dev/null
    e2fsck -fn "$n.img" >/dev/null 2>&1
}
mk() { mkext "$@"; trim "$1.img" "$EXT/$1"; }
# few, small inodes: the inode table is most of a seed
mk ext2 1M -t ext2 -b 1024 -N 64 -I 128
mkext ext3 3M -t ext3 -b 1024 -N 64 -J size=1   # the journal is too big a seed: probe only
mk ext4 1M -t ext4 -b 1024 -N 64 -I 128 -O ^has_journal
mk ext4_4k 1M -t ext4 -b 4096 -N 64 -O ^has_journal,64bit
mk ext4_inline 1M -t ext4 -b 1024 -N 64 -O ^has_journal,inline_data
mk ext4_nocsum 1M -t ext4 -b 1024 -N 64 -I 128 -O ^has_journal,^metadata_csum,^extent,^64bit,^flex_bg
# probe seeds: the first byte picks the disk size (1: 4 KiB, 2: 64 KiB, 3: 1 MiB)
probe() {  # NAME SIZE-BYTE IMAGE
    { printf "\\x$2"; cat "$3"; } >"$PRB/$1"
}
head -c 8192 "$EXT/ext4" >sb4; probe ext4 03 sb4
head -c 8192 "$EXT/ext2" >sb2; probe ext2 03 sb2
head -c 8192 ext3.img >sb3; probe ext3 03 sb3
rm -f f.img; mkfs.fat -C -F 12 f.img 1024 >/dev/null; trim f.img f12; probe fat12 03 f12
rm -f f.img; mkfs.fat -C -F 16 -n LABEL16 f.img 20000 >/dev/null; trim f.img f16; probe fat16 03 f16
truncate -s 1M s.img; mkswap -q -L sw -U 11111111-2222-3333-4444-555555555555 s.img >/dev/null 2>&1
trim s.img sw; probe swap 03 sw
truncate -s 1M s64.img; mkswap -q -p 65536 s64.img >/dev/null 2>&1; trim s64.img sw64; probe swap64k 03 sw64
# what lies over a swap header: LUKS2 (crypto_LUKS), a hibernation image
# (swsuspend), a big-endian header (still swap)
over() {  # NAME PYTHON-STATEMENTS-ON-f
    cp s.img o.img
    python3 -c "import struct; f = open('o.img', 'r+b'); $2"
    head -c 8192 o.img >o8; probe "$1" 03 o8
}
over swap_luks2 "h = bytearray(512); h[0:6] = b'LUKS\xba\xbe'; h[6:8] = struct.pack('>H', 2); h[168:204] = b'0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'; f.write(h)"
over swsuspend "f.seek(4086); f.write(b'S1SUSPEND')"
over swap_be "f.seek(1024); v = f.read(12); f.seek(1024); f.write(b''.join(v[i:i + 4][::-1] for i in (0, 4, 8)))"
