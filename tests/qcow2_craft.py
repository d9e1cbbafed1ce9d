#!/usr/bin/env python3
"""Craft damaged qcow2 images for tests/t_qcow2_bad.sh and the fuzz corpus.

    qcow2_craft.py FILE set FIELD VALUE        header field (names below)
    qcow2_craft.py FILE get FIELD
    qcow2_craft.py FILE l1 INDEX VALUE         raw L1 entry
    qcow2_craft.py FILE l1get INDEX
    qcow2_craft.py FILE l2 GUEST_OFF VALUE     raw L2 entry mapping GUEST_OFF
    qcow2_craft.py FILE l2get GUEST_OFF        print the raw L2 entry
    qcow2_craft.py FILE refcount CLUSTER VALUE refcount of host cluster
    qcow2_craft.py FILE refget CLUSTER
    qcow2_craft.py FILE ext TYPE HEXDATA       append a header extension
    qcow2_craft.py FILE extset TYPE POS VALUE  64-bit field at byte POS of
                                               the first extension TYPE
    qcow2_craft.py FILE extget TYPE POS
Values accept 0x... and Python expressions of integers (e.g. 1<<40).
Layout: qemu/qemu docs/interop/qcow2.txt; everything big-endian."""
import struct, sys

FIELDS = {  # name: (offset, struct format)
    'magic': (0, '>I'), 'version': (4, '>I'), 'backing_file_offset': (8, '>Q'),
    'backing_file_size': (16, '>I'), 'cluster_bits': (20, '>I'), 'size': (24, '>Q'),
    'crypt_method': (32, '>I'), 'l1_size': (36, '>I'), 'l1_table_offset': (40, '>Q'),
    'refcount_table_offset': (48, '>Q'), 'refcount_table_clusters': (56, '>I'),
    'nb_snapshots': (60, '>I'), 'snapshots_offset': (64, '>Q'),
    'incompatible_features': (72, '>Q'), 'compatible_features': (80, '>Q'),
    'autoclear_features': (88, '>Q'), 'refcount_order': (96, '>I'),
    'header_length': (100, '>I'), 'compression_type': (104, '>B'),
}
MASK = 0x00fffffffffffe00


def rd(f, off, fmt):
    f.seek(off)
    return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]


def wr(f, off, fmt, v):
    f.seek(off)
    f.write(struct.pack(fmt, v))


def hdr(f, name):
    return rd(f, *FIELDS[name])


def l2_entry_pos(f, guest):
    cb = hdr(f, 'cluster_bits')
    cs = 1 << cb
    l2n = cs // 8
    l1i, l2i = guest // cs // l2n, guest // cs % l2n
    l1e = rd(f, hdr(f, 'l1_table_offset') + 8 * l1i, '>Q')
    if not l1e & MASK:
        sys.exit('no L2 table for guest offset %d' % guest)
    return (l1e & MASK) + 8 * l2i


def ref_pos(f, cluster):
    cs = 1 << hdr(f, 'cluster_bits')
    order = hdr(f, 'refcount_order') if hdr(f, 'version') >= 3 else 4
    assert order == 4, 'only refcount_bits=16 supported here'
    per = cs * 8 // 16
    rte = rd(f, hdr(f, 'refcount_table_offset') + 8 * (cluster // per), '>Q')
    if not rte:
        sys.exit('no refcount block for cluster %d' % cluster)
    return rte + 2 * (cluster % per)


def ext_pos(f, typ):
    """Offset of the first extension of type typ (None: the end marker)."""
    p = hdr(f, 'header_length') if hdr(f, 'version') >= 3 else 72
    while True:
        t, ln = rd(f, p, '>I'), rd(f, p + 4, '>I')
        if t == 0 or t == typ:
            return p if t == typ or typ is None else sys.exit('no extension %#x' % typ)
        p += 8 + (ln + 7) // 8 * 8


def main():
    path, op = sys.argv[1], sys.argv[2]
    named = op in ('set', 'get')
    if op == 'ext':
        args = [eval(sys.argv[3], {}), bytes.fromhex(sys.argv[4])]
    else:
        args = [eval(a, {}) for a in sys.argv[4 if named else 3:]]
    with open(path, 'r+b') as f:
        if op == 'set':
            wr(f, *FIELDS[sys.argv[3]], args[0])
        elif op == 'get':
            print(hdr(f, sys.argv[3]))
        elif op == 'l1':
            wr(f, hdr(f, 'l1_table_offset') + 8 * args[0], '>Q', args[1])
        elif op == 'l1get':
            print(rd(f, hdr(f, 'l1_table_offset') + 8 * args[0], '>Q'))
        elif op == 'l2':
            wr(f, l2_entry_pos(f, args[0]), '>Q', args[1])
        elif op == 'l2get':
            print(rd(f, l2_entry_pos(f, args[0]), '>Q'))
        elif op == 'refcount':
            wr(f, ref_pos(f, args[0]), '>H', args[1])
        elif op == 'refget':
            print(rd(f, ref_pos(f, args[0]), '>H'))
        elif op == 'ext':
            p = ext_pos(f, None)
            data = args[1] + bytes(-len(args[1]) % 8)
            f.seek(p)
            f.write(struct.pack('>II', args[0], len(args[1])) + data + bytes(8))
        elif op == 'extset':
            wr(f, ext_pos(f, args[0]) + 8 + args[1], '>Q', args[2])
        elif op == 'extget':
            print(rd(f, ext_pos(f, args[0]) + 8 + args[1], '>Q'))
        else:
            sys.exit('unknown operation ' + op)


main()
