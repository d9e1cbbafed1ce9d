#!/bin/bash
# Regenerate the seeds of fuzz/corpus/fuzz_vdi/ and fuzz/corpus/fuzz_vpc/:
# small images qemu-img and vmkit write (with no data: their blocks are
# 1 and 2 MiB), hand-made ones with small blocks (512 bytes VDI, 4 KiB VHD) and data, and damaged
# variants (entries past the end, shared, out of range, block sizes).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
V=$TOP/fuzz/corpus/fuzz_vdi P=$TOP/fuzz/corpus/fuzz_vpc
mkdir -p "$V" "$P"
qemu-img create -q -f vdi "$V/qemu_dyn" 3M
"$VMKIT" img create -f vdi "$D/v.vdi" 5M >/dev/null && cp "$D/v.vdi" "$V/vmkit_dyn"
qemu-img create -q -f vpc "$P/qemu_dyn" 5M
qemu-img create -q -f vpc -o subformat=fixed "$P/qemu_fixed" 64K
qemu-img create -q -f vpc -o force_size=on "$P/qemu_force" 3M
"$VMKIT" img create -f vpc "$D/v.vhd" 5M >/dev/null && cp "$D/v.vhd" "$P/vmkit_dyn"
python3 - "$V" "$P" <<'PY'
import os, struct, sys
V, P = sys.argv[1], sys.argv[2]

def vdi(name, bs=512, nblocks=256, entries=None, size=None, bsfield=None, extra=0, typ=1, cut=None):
    h = bytearray(512)
    h[:35] = b"<<< QEMU VM Virtual Disk Image >>>\n"
    off_data = 512 + (nblocks * 4 + 511) // 512 * 512
    struct.pack_into("<IIII", h, 64, 0xbeda107f, 0x00010001, 0x180, typ)
    struct.pack_into("<II", h, 340, 512, off_data)
    struct.pack_into("<I", h, 360, 512)
    struct.pack_into("<QIIII", h, 368, size if size is not None else nblocks * bs,
                     bsfield if bsfield is not None else bs, extra, nblocks, 0)
    m = [0xffffffff] * nblocks
    data = bytearray()
    for i, e in (entries or {}).items():
        m[i] = e
    used = max([e for e in m if e < 0xfffffffe] + [-1]) + 1
    for d in range(used if cut is None else cut):
        data += bytes([0x30 + d % 64]) * bs
    struct.pack_into("<I", h, 388, sum(1 for e in m if e < 0xfffffffe))
    bm = b"".join(struct.pack("<I", e) for e in m)
    bm += bytes(off_data - 512 - len(bm))
    open(os.path.join(V, name), "wb").write(bytes(h) + bm + bytes(data))

vdi("small_blocks", entries={0: 0, 3: 1, 100: 2, 255: 3, 7: 0xfffffffe})
vdi("static", nblocks=64, typ=2, entries={i: i for i in range(64)})
vdi("bad_dup", entries={0: 0, 3: 0})
vdi("bad_range", entries={0: 0, 3: 999}, cut=1)
vdi("bad_eof", entries={0: 0, 3: 200}, cut=2)
vdi("bad_bs", bsfield=3, entries={0: 0})
vdi("bad_size", size=1 << 40, entries={0: 0})
vdi("bad_extra", extra=512, entries={0: 0})

def cks(b, field):
    b[field:field + 4] = bytes(4)
    struct.pack_into(">I", b, field, ~sum(b) & 0xffffffff)

def vhd(name, bs=4096, nbat=32, entries=None, bsfield=None, size=None):
    f = bytearray(512)
    size = size if size is not None else nbat * bs
    f[:8] = b"conectix"
    struct.pack_into(">IIQI", f, 8, 2, 0x00010000, 512, 0)
    f[28:32] = b"qem2"
    struct.pack_into(">I", f, 32, 0x00050003)
    f[36:40] = b"Wi2k"
    struct.pack_into(">QQHBBI", f, 40, size, size, 65535, 16, 255, 3)
    cks(f, 64)
    d = bytearray(1024)
    d[:8] = b"cxsparse"
    struct.pack_into(">QQIII", d, 8, 0xffffffffffffffff, 1536, 0x00010000, nbat,
                     bsfield if bsfield is not None else bs)
    cks(d, 36)
    batlen = (nbat * 4 + 511) // 512 * 512
    bat = [0xffffffff] * nbat
    pos = 1536 + batlen
    blocks = bytearray()
    for i in sorted(entries or {}):
        e = entries[i]
        if e == "next":
            bat[i] = pos // 512
            blocks += b"\xff" * 512 + bytes([0x40 + i % 64]) * bs
            pos += 512 + bs
        else:
            bat[i] = e
    b = b"".join(struct.pack(">I", e) for e in bat) + bytes(batlen - nbat * 4)
    open(os.path.join(P, name), "wb").write(bytes(f) + bytes(d) + b + bytes(blocks) + bytes(f))

vhd("small_blocks", entries={0: "next", 5: "next", 31: "next"})
vhd("bad_overlap", entries={0: "next", 5: 4 + 1})  # block 0 is at sector 4
vhd("bad_meta", entries={0: "next", 1: 2})
vhd("bad_eof", entries={0: "next", 9: 0x100000})
vhd("bad_bs", bsfield=1000, entries={0: "next"})
vhd("bad_small_bat", size=1 << 30, entries={0: "next"})
PY
