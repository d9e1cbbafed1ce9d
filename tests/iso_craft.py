#!/usr/bin/env python3
"""Damage an ISO 9660 image in one chosen way, for the bad-input tests.

    iso_craft.py KIND IN OUT [NAME]

KIND:
  loop      the directory NAME in the root points back at the root
  pastend   the directory NAME in the root starts past the end of the image
  huge      the file NAME in the root claims 4 GiB - 1 bytes
  noterm    the volume descriptor set terminator is wiped
  relabel   the primary volume id becomes NAME (the Joliet one stays)

Only the primary (ISO 9660 + Rock Ridge) tree is touched, which is the one
readers use when Rock Ridge is present.  NAME is the ISO 9660 name as
stored (upper case), without a ";1" version or a trailing dot.
"""
import struct
import sys

B = 2048


def records(img, lba, size):
    """(offset, name) of each directory record of the directory at lba."""
    off, end = lba * B, lba * B + size
    while off < end:
        n = img[off]
        if n == 0:                      # records do not cross blocks
            off = (off // B + 1) * B
            continue
        nl = img[off + 32]
        yield off, bytes(img[off + 33:off + 33 + nl])
        off += n


def set32(img, at, v):
    img[at:at + 4] = struct.pack('<I', v)
    img[at + 4:at + 8] = struct.pack('>I', v)


def main():
    kind, src, dst = sys.argv[1:4]
    name = sys.argv[4].encode() if len(sys.argv) > 4 else b''
    img = bytearray(open(src, 'rb').read())
    pvd = 16 * B
    root = pvd + 156
    root_lba = struct.unpack_from('<I', img, root + 2)[0]
    root_size = struct.unpack_from('<I', img, root + 10)[0]
    if kind == 'relabel':
        img[pvd + 40:pvd + 72] = name.ljust(32)[:32]
    elif kind == 'noterm':
        for i in range(17, 64):
            if img[i * B + 1:i * B + 6] == b'CD001' and img[i * B] == 255:
                img[i * B:i * B + B] = bytes(B)
                break
        else:
            sys.exit('no terminator found')
    else:
        for off, nm in records(img, root_lba, root_size):
            if nm.split(b';')[0].rstrip(b'.') == name:
                break
        else:
            sys.exit('no %r in the root directory' % name)
        if kind == 'loop':
            set32(img, off + 2, root_lba)
            set32(img, off + 10, root_size)
        elif kind == 'pastend':
            set32(img, off + 2, len(img) // B + 1000)
        elif kind == 'huge':
            set32(img, off + 10, 0xFFFFFFFF)
        else:
            sys.exit('unknown kind ' + kind)
    open(dst, 'wb').write(img)


main()
