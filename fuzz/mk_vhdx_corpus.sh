#!/bin/bash
# Regenerate the seeds of fuzz/corpus/fuzz_vhdx/: VHDX images qemu-img
# and vmkit make (empty, with data written by qemu-io, fixed, converted by
# vmkit), folded as fuzz_vhdx.c reads them (the first 512 bytes of every
# 64 KiB page), and damaged variants of the folded qemu image (bad header
# checksums, region table, block size, BAT entries past the end or on top
# of each other, a differencing disk, a pending log).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
C=$TOP/fuzz/corpus/fuzz_vhdx
mkdir -p "$C"
qemu-img create -q -f vhdx "$D/empty" 16M
qemu-img create -q -f vhdx -o block_size=1M "$D/dyn" 4M
qemu-io -c 'write -P 0x5a 0 64k' -c 'write -P 0x33 2M 4k' "$D/dyn" >/dev/null
qemu-img create -q -f vhdx -o block_size=1M,subformat=fixed "$D/fixed" 2M
qemu-io -c 'write -P 0x77 0 1k' "$D/fixed" >/dev/null
head -c 3M /dev/zero | tr '\0' '\141' >"$D/src.raw"
"$VMKIT" img convert -O vhdx -o block_size=1M "$D/src.raw" "$D/vmkit"
python3 - "$D" "$C" "$TOP" <<'PY'
import os, struct, sys
D, C, TOP = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(TOP, "tests", "fixtures"))
from crc32c import crc32c

def fold(path):
    d = open(path, "rb").read()
    out = [d[k:k + 512].ljust(512, b"\0") for k in range(0, len(d), 65536)]
    while out and not any(out[-1]):
        out.pop()
    return bytearray(b"".join(out))

def page(b, off):        # folded position of image offset off (inside a page's first 512 bytes)
    assert off % 65536 < 512
    return off // 65536 * 512 + off % 65536

def recrc(b, off, length):   # a CRC over length image bytes at off (zeroes past 512)
    p = page(b, off)
    b[p + 4:p + 8] = bytes(4)
    struct.pack_into("<I", b, p + 4, crc32c(bytes(b[p:p + 512]) + bytes(length - 512)))

for n in ("empty", "dyn", "fixed", "vmkit"):
    open(os.path.join(C, "seed_" + n), "wb").write(fold(os.path.join(D, n)))

base = fold(os.path.join(D, "dyn"))
def variant(name, fn):
    b = bytearray(base)
    fn(b)
    open(os.path.join(C, name), "wb").write(b)

H1, H2, RT1, RT2, LOG, BAT, META = 65536, 131072, 196608, 262144, 1 << 20, 2 << 20, 3 << 20
def both_headers_bad(b):
    b[page(b, H1) + 8] ^= 1
    b[page(b, H2) + 8] ^= 1
variant("bad_headers", both_headers_bad)
def rt_bad(b):
    for rt in (RT1, RT2):
        b[page(b, rt) + 8] = 99
variant("bad_regions", rt_bad)
def rt_overlap(b):
    for rt in (RT1, RT2):
        p = page(b, rt)
        struct.pack_into("<Q", b, p + 16 + 16, META)   # the BAT on the metadata
        recrc(b, rt, 65536)
variant("bad_region_overlap", rt_overlap)
def block_size(b):
    struct.pack_into("<I", b, page(b, META + 65536), 3 << 20)
variant("bad_block_size", block_size)
def parent(b):
    struct.pack_into("<I", b, page(b, META + 65536) + 4, 2)
variant("differencing", parent)
def bat_eof(b):
    struct.pack_into("<Q", b, page(b, BAT) + 8, (200 << 20) | 6)
variant("bad_bat_eof", bat_eof)
def bat_dup(b):
    e = struct.unpack_from("<Q", b, page(b, BAT))[0]
    struct.pack_into("<Q", b, page(b, BAT) + 8, e)
variant("bad_bat_dup", bat_dup)
def bat_meta(b):
    struct.pack_into("<Q", b, page(b, BAT), BAT | 6)
variant("bad_bat_on_bat", bat_meta)
def bat_state(b):
    struct.pack_into("<Q", b, page(b, BAT) + 16, 7)
variant("bad_bat_partial", bat_state)
def log_pending(b):
    guid = bytes(range(1, 17))
    p = page(b, LOG)
    e = bytearray(4096)
    e[0:4] = b"loge"
    struct.pack_into("<IIQII", e, 8, 4096, 0, 1, 0, 0)
    e[32:48] = guid
    struct.pack_into("<I", e, 4, crc32c(bytes(e)))
    b[p:p + 512] = e[:512]   # the rest of the entry is zero, as in e
    for h in (H1, H2):
        q = page(b, h)
        b[q + 48:q + 64] = guid
        recrc(b, h, 4096)
variant("log_pending", log_pending)
PY
# logs to replay (tests/fixtures/vhdx_log.py; "zero" descriptors only, so
# each entry's data sits in its first 512 bytes): one entry, and a run of
# two (the first padded to 64 KiB, so the second starts a page)
P=$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); print(struct.unpack("<Q",d[2<<20:(2<<20)+8])[0] & ~0xfffff)' "$D/dyn")
cp "$D/dyn" "$D/z" && python3 "$TOP/tests/fixtures/vhdx_log.py" "$D/z" \
    '{"entries": [{"at": 0, "seq": 1, "tail": 0, "ops": [["zero", '$((P + 8192))', 8192]]}]}'
cp "$D/dyn" "$D/s" && python3 "$TOP/tests/fixtures/vhdx_log.py" "$D/s" \
    '{"entries": [{"at": 0, "seq": 7, "tail": 0, "sectors": 16, "ops": [["zero", '$P', 4096]]},
                  {"at": 16, "seq": 8, "tail": 0, "ops": [["zero", '$((P + 4096))', 4096]]}]}'
for n in z s; do
    python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(b"".join(d[k:k+512].ljust(512,b"\0") for k in range(0,len(d),65536)))' \
        "$D/$n" "$C/log_replay_$n"
done
ls -la "$C"
