#!/usr/bin/env python3
"""Check a PNG file the way a decoder reads it, and describe its pixels.

usage: pngstat.py FILE

Checks the signature, every chunk's CRC, IHDR first and IEND last, that
the IDAT stream inflates (zlib) to exactly one filter byte plus one row of
pixels per line, and undoes the five PNG row filters (8-bit gray, RGB,
gray+alpha, RGBA, truecolour only: what QEMU's screendump writes).  Prints

    WIDTH HEIGHT COLOURS SHA256

COLOURS is the number of distinct pixel values (1: a blank screen),
SHA256 the hash of the unfiltered pixels (two screens differ when it
does).  Exits 1 with a message on any damage.
"""
import hashlib
import struct
import sys
import zlib


def fail(msg):
    sys.stderr.write("pngstat: %s\n" % msg)
    sys.exit(1)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def main():
    data = open(sys.argv[1], "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("not a PNG signature")
    pos, chunks = 8, []
    while pos < len(data):
        if pos + 12 > len(data):
            fail("truncated chunk at %d" % pos)
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if len(body) != n:
            fail("truncated %r chunk" % kind)
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            fail("bad CRC in %r chunk" % kind)
        chunks.append((kind, body))
        pos += 12 + n
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        fail("IHDR must come first and IEND last")
    w, h, depth, ctype, comp, filt, lace = struct.unpack(">IIBBBBB", chunks[0][1])
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or channels is None or comp or filt or lace:
        fail("unsupported IHDR: depth %d colour type %d interlace %d" % (depth, ctype, lace))
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    stride = w * channels
    if len(raw) != h * (stride + 1):
        fail("IDAT holds %d bytes, %dx%d needs %d" % (len(raw), w, h, h * (stride + 1)))
    prev = bytearray(stride)
    pixels = bytearray()
    for y in range(h):
        f = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                row[i] = (row[i] + a) & 255
            elif f == 2:
                row[i] = (row[i] + b) & 255
            elif f == 3:
                row[i] = (row[i] + (a + b) // 2) & 255
            elif f == 4:
                row[i] = (row[i] + paeth(a, b, c)) & 255
            elif f != 0:
                fail("row %d: unknown filter %d" % (y, f))
        pixels += row
        prev = row
    colours = len({bytes(pixels[i:i + channels]) for i in range(0, len(pixels), channels)})
    print(w, h, colours, hashlib.sha256(pixels).hexdigest())


main()
