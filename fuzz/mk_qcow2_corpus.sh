#!/bin/bash
# Regenerate the seeds of fuzz/corpus/fuzz_qcow2/: small images qemu-img
# and qemu-io write (each kind the driver must read), and damaged ones
# crafted with tests/qcow2_craft.py.  512-byte clusters keep them small.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/fuzz/corpus/fuzz_qcow2
CRAFT="python3 $TOP/tests/qcow2_craft.py"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
cd "$D"
mkdir -p "$OUT"
io() { qemu-io -c "write -P 0x5a 1000 3000" -c "write -P 0x11 40k 2k" -c "write -z 60k 1k" "$@" >/dev/null; }
q() { qemu-img create -q -f qcow2 "$@"; }
q -o cluster_size=512 v3.qcow2 128K;                           io v3.qcow2
q -o cluster_size=512,compat=0.10 v2.qcow2 128K;               io v2.qcow2
q -o cluster_size=4096 c4k.qcow2 1M;                           io c4k.qcow2
q -o cluster_size=512,preallocation=metadata meta.qcow2 16K
q -o cluster_size=512,refcount_bits=1 rc1.qcow2 128K;          io rc1.qcow2
q -o cluster_size=512,refcount_bits=64 rc64.qcow2 128K;        io rc64.qcow2
q -o cluster_size=512,lazy_refcounts=on lazy.qcow2 128K;       io lazy.qcow2
cp lazy.qcow2 dirty.qcow2; $CRAFT dirty.qcow2 set incompatible_features 1
qemu-img create -q -f raw back.raw 128K
q -o cluster_size=512 -b back.raw -F raw backed.qcow2 128K; io backed.qcow2
q -o cluster_size=512 snap.qcow2 128K; io snap.qcow2
qemu-img snapshot -c s1 snap.qcow2; qemu-io -c "write -P 0x77 0 1k" snap.qcow2 >/dev/null
qemu-img create -q -f raw src.raw 128K; io -f raw src.raw
qemu-img convert -c -O qcow2 -o cluster_size=512 src.raw zlib.qcow2
qemu-img convert -c -O qcow2 -o cluster_size=512,compression_type=zstd src.raw zstd.qcow2
q -o cluster_size=16K,extended_l2=on el2.qcow2 256K;            io el2.qcow2
q -o cluster_size=512 bitmaps.qcow2 128K
qemu-img bitmap --add -g 512 bitmaps.qcow2 b0; io bitmaps.qcow2
qemu-img bitmap --add --disable bitmaps.qcow2 b1; qemu-img bitmap --merge b0 bitmaps.qcow2 b1
# damaged
cp v3.qcow2 bad_l1eof.qcow2;   $CRAFT bad_l1eof.qcow2 set l1_table_offset '1<<40'
cp v3.qcow2 bad_rthdr.qcow2;   $CRAFT bad_rthdr.qcow2 set refcount_table_offset 0
cp v3.qcow2 bad_l1hdr.qcow2;   $CRAFT bad_l1hdr.qcow2 set l1_table_offset 0
cp v3.qcow2 bad_corrupt.qcow2; $CRAFT bad_corrupt.qcow2 set incompatible_features 2
cp v3.qcow2 bad_l2eof.qcow2;   $CRAFT bad_l2eof.qcow2 l1 0 '(1<<63)|(1<<40)'
cp v3.qcow2 bad_size.qcow2;    $CRAFT bad_size.qcow2 set size '1<<55'
cp zlib.qcow2 bad_zeof.qcow2;  $CRAFT bad_zeof.qcow2 l2 1024 "($($CRAFT zlib.qcow2 l2get 1024) & ~((1<<61)-1)) | (1<<40)"
head -c 100 v3.qcow2 >bad_trunc.qcow2
cp bitmaps.qcow2 bad_bmdir.qcow2; $CRAFT bad_bmdir.qcow2 extset 0x23852875 16 '(1<<64)-512'
cp bitmaps.qcow2 bad_bmext.qcow2; $CRAFT bad_bmext.qcow2 ext 0x1234abcd 00112233
cp v3.qcow2 bad_snapoff.qcow2; $CRAFT bad_snapoff.qcow2 set snapshots_offset 513
# internal snapshots: several, taken by qemu-img and vmkit, and damaged
# tables (the first entry's L1 offset, its L1 entry, its extra data size)
VMKIT=${VMKIT:-$TOP/build/vmkit}
q -o cluster_size=512 snaps.qcow2 128K; io snaps.qcow2
qemu-img snapshot -c a snaps.qcow2; qemu-io -c "write -P 0x21 0 2k" snaps.qcow2 >/dev/null
"$VMKIT" img snapshot -c b snaps.qcow2; qemu-io -c "write -P 0x22 1k 2k" snaps.qcow2 >/dev/null
qemu-img snapshot -c c snaps.qcow2; qemu-img snapshot -d a snaps.qcow2
q -o cluster_size=512,compat=0.10 snapv2.qcow2 128K; io snapv2.qcow2; "$VMKIT" img snapshot -c v2 snapv2.qcow2
snappoke() {  # FILE OFFSET-IN-FIRST-ENTRY FORMAT VALUE: overwrite a field of snapshot entry 0
    python3 - "$@" <<'PY'
import struct, sys
f, at, fmt, v = sys.argv[1], int(sys.argv[2]), sys.argv[3], eval(sys.argv[4])
d = bytearray(open(f, 'rb').read())
so = struct.unpack('>Q', d[64:72])[0]
if at < 0:   # an entry of the first snapshot's L1 table
    l1 = struct.unpack('>Q', d[so:so + 8])[0]; so, at = l1, 0
struct.pack_into(fmt, d, so + at, v)
open(f, 'wb').write(d)
PY
}
cp snaps.qcow2 snapbad_l1off.qcow2; snappoke snapbad_l1off.qcow2 0 '>Q' '1<<40'
cp snaps.qcow2 snapbad_l1size.qcow2; snappoke snapbad_l1size.qcow2 8 '>I' '1<<30'
cp snaps.qcow2 snapbad_l2.qcow2; snappoke snapbad_l2.qcow2 -1 '>Q' '(1<<63)|513'
cp snaps.qcow2 snapbad_extra.qcow2; snappoke snapbad_extra.qcow2 36 '>I' '4000'
cp snaps.qcow2 snapbad_names.qcow2; snappoke snapbad_names.qcow2 12 '>H' '65535'
for f in *.qcow2; do cp "$f" "$OUT/${f%.qcow2}"; done
ls -l "$OUT"
