#!/usr/bin/env python3
"""Make and damage VMDK files for the tests (VMware's "Virtual Disk Format
5.0" layout, independent of vmkit's code).

  vmdk_craft.py stream SRC.raw OUT.vmdk   VMware-style streamOptimized:
        the header says "directory at the end" (gdOffset -1), grains
        behind markers, grain tables and the directory behind their
        markers, then a footer (header copy with the real offset) and the
        end-of-stream marker: what ovftool and VirtualBox export.
  vmdk_craft.py hdr FILE FIELD VALUE      set a header field (sparse file)
  vmdk_craft.py gte FILE INDEX VALUE      set entry INDEX of the primary
        grain tables (through the directory) to VALUE (sectors)
  vmdk_craft.py gte? FILE INDEX           print that entry
"""
import struct
import sys
import zlib

HDR = '<4sIIQQQQIQQQc4sH'
FIELDS = ['magic', 'version', 'flags', 'capacity', 'granularity', 'desc_offset',
          'desc_size', 'num_gtes', 'rgd_offset', 'gd_offset', 'grain_offset',
          'filler', 'check', 'compress']


def read_hdr(f):
    f.seek(0)
    return dict(zip(FIELDS, struct.unpack(HDR, f.read(struct.calcsize(HDR)))))


def write_hdr(f, h):
    f.seek(0)
    f.write(struct.pack(HDR, *[h[k] for k in FIELDS]))


def pad(b):
    return b + bytes(-len(b) % 512)


def marker(sectors, mtype):
    return struct.pack('<QII', sectors, 0, mtype) + bytes(496)


def stream(src, out):
    data = open(src, 'rb').read()
    data += bytes(-len(data) % 512)
    cap = len(data) // 512
    gran, gtes = 128, 512
    grain = gran * 512
    n_grains = (cap + gran - 1) // gran
    n_gt = (n_grains + gtes - 1) // gtes
    desc = pad(('# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n'
                'createType="streamOptimized"\n\n# Extent description\n'
                'RW %d SPARSE "%s"\n\n# The Disk Data Base\n#DDB\n\n'
                'ddb.adapterType = "lsilogic"\nddb.virtualHWVersion = "4"\n'
                % (cap, out.rsplit('/', 1)[-1])).encode())
    h = dict(magic=b'KDMV', version=3, flags=0x30001, capacity=cap, granularity=gran,
             desc_offset=1, desc_size=len(desc) // 512, num_gtes=gtes, rgd_offset=0,
             gd_offset=0xffffffffffffffff, grain_offset=1 + len(desc) // 512,
             filler=b'\0', check=b'\n \r\n', compress=1)
    body = bytearray(pad(struct.pack(HDR, *[h[k] for k in FIELDS])) + desc)
    gt = [0] * (n_gt * gtes)
    for g in range(n_grains):
        chunk = data[g * grain:(g + 1) * grain]
        if not any(chunk):
            continue
        z = zlib.compress(chunk.ljust(grain, b'\0'))
        gt[g] = len(body) // 512
        body += pad(struct.pack('<QI', g * gran, len(z)) + z)
    gd = []
    for t in range(n_gt):
        body += marker(4, 1)
        gd.append(len(body) // 512)
        body += struct.pack('<%dI' % gtes, *gt[t * gtes:(t + 1) * gtes])
    gd_bytes = pad(struct.pack('<%dI' % n_gt, *gd))
    body += marker(len(gd_bytes) // 512, 2)
    h['gd_offset'] = len(body) // 512
    body += gd_bytes
    body += marker(1, 3)
    body += pad(struct.pack(HDR, *[h[k] for k in FIELDS]))
    body += bytes(512)      # end of stream
    open(out, 'wb').write(body)


def gte_pos(f, index):
    h = read_hdr(f)
    gtes = h['num_gtes']
    f.seek(h['gd_offset'] * 512 + (index // gtes) * 4)
    gt = struct.unpack('<I', f.read(4))[0]
    return gt * 512 + (index % gtes) * 4


def main(a):
    if a[0] == 'stream':
        stream(a[1], a[2])
    elif a[0] == 'hdr':
        with open(a[1], 'r+b') as f:
            h = read_hdr(f)
            h[a[2]] = int(a[3], 0)
            write_hdr(f, h)
    elif a[0] == 'gte':
        with open(a[1], 'r+b') as f:
            f.seek(gte_pos(f, int(a[2])))
            f.write(struct.pack('<I', int(a[3], 0)))
    elif a[0] == 'gte?':
        with open(a[1], 'rb') as f:
            f.seek(gte_pos(f, int(a[2])))
            print(struct.unpack('<I', f.read(4))[0])
    else:
        sys.exit(__doc__)


main(sys.argv[1:])
