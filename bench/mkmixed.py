#!/usr/bin/env python3
"""mkmixed.py PATH MB: the benchmarks' source disk, deterministic.  Per
4 MiB slot, 1.6 MiB of content (random 1/4, text 2/4, explicit zeroes
1/4) followed by a hole: about 40% of the disk allocated."""
import random
import sys

path, mb = sys.argv[1], int(sys.argv[2])
r = random.Random(1234)
text = b''.join(b'%08d the quick brown fox jumps over the lazy vmkit disk image\n' % i
                for i in range(30000))
slot, fill = 4 << 20, (16 << 20) // 10
with open(path, 'wb') as f:
    f.truncate(mb << 20)
    for i in range((mb << 20) // slot):
        f.seek(i * slot)
        kind = i % 4
        if kind == 0:
            f.write(r.randbytes(fill))
        elif kind == 3:
            f.write(bytes(fill))
        else:
            o = r.randrange(len(text) - fill) if len(text) > fill else 0
            f.write((text * 2)[o:o + fill])
