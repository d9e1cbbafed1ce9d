#!/usr/bin/env python3
# Usage: fat_bigdir.py IMAGE N
# Give directory /D (made by mmd) of a fresh FAT16/32 image N short-named
# empty files F0000000.TXT ..., written straight into a chain of free
# clusters (mtools would take minutes).  fsck.fat -n finds it clean.
import struct
import sys

path, n = sys.argv[1], int(sys.argv[2])
img = bytearray(open(path, 'rb').read())
bps, spc, res, nfats, rootents, tot16, _, fatsz16 = struct.unpack_from('<HBHBHHBH', img, 11)
tot = tot16 or struct.unpack_from('<I', img, 32)[0]
fatsz = fatsz16 or struct.unpack_from('<I', img, 36)[0]
rootsec = (rootents * 32 + bps - 1) // bps
first_data = res + nfats * fatsz + rootsec
nclus = (tot - first_data) // spc
bits = 12 if nclus < 4085 else 16 if nclus < 65525 else 32
assert bits in (16, 32)
csize = bps * spc
def fat_get(c):
    o = res * bps + c * bits // 8
    return struct.unpack_from('<H' if bits == 16 else '<I', img, o)[0] & (0xffff if bits == 16 else 0x0fffffff)
def fat_set(c, v):
    for k in range(nfats):
        o = (res + k * fatsz) * bps + c * bits // 8
        struct.pack_into('<H' if bits == 16 else '<I', img, o, v)
def coff(c): return (first_data + (c - 2) * spc) * bps
# find D in the root directory (FAT16: fixed root; FAT32: root cluster, one cluster is enough)
if bits == 16:
    root = (res + nfats * fatsz) * bps; rlen = rootents * 32
else:
    root = coff(struct.unpack_from('<I', img, 44)[0]); rlen = csize
d = next(root + i for i in range(0, rlen, 32) if img[root + i:root + i + 12] == b'D          \x10')
dcl = struct.unpack_from('<H', img, d + 26)[0] | (struct.unpack_from('<H', img, d + 20)[0] << 16)
need = (n + 2) * 32
ncl = (need + csize - 1) // csize
free = [c for c in range(2, nclus + 2) if fat_get(c) == 0][:ncl - 1]
chain = [dcl] + free
eoc = 0xffff if bits == 16 else 0x0fffffff
for a, b in zip(chain, chain[1:] + [None]):
    fat_set(a, b if b else eoc)
buf = bytearray(ncl * csize)
buf[0:64] = img[coff(dcl):coff(dcl) + 64]   # "." and ".."
for i in range(n):
    e = b'F%07d' % i + b'TXT' + bytes([0x20]) + bytes(20)
    buf[64 + i * 32:96 + i * 32] = e
for k, c in enumerate(chain):
    img[coff(c):coff(c) + csize] = buf[k * csize:(k + 1) * csize]
open(path, 'wb').write(img)
