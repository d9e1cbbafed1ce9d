#!/usr/bin/env python3
"""powercut: the states a power cut could leave a file in, rebuilt from a
`crashpoint -r LOG` record of the writes a command made to it.

A process kill (crashpoint N) leaves writes 1..N-1: the page cache
survives it.  A power cut leaves more: everything written before the
file's last fsync/fdatasync is on disk, but the writes made since may
have reached the disk in any subset, in any order (the kernel writes
pages back when it likes).  The writes between two syncs form an epoch;
the writes of the epoch in progress at the cut persist in any subset.

  powercut.py states LOG K
      Print up to K state specifications "E:only:J" (of epoch E only its
      write J persisted) and "E:but:J" (all of epoch E but write J),
      spread evenly over every epoch with two or more writes (with one
      write, every subset is a state a process kill also leaves), and the
      epoch after the last sync counts too (a cut after the command
      exited); and "E:torn:J" (the writes of epoch E before J, and of J
      only its first 4 KiB page) and "E:tornend:J" (of J only its last
      page) for every write J that spans pages: the page cache writes a
      file back page by page, so a cut can tear one write.
      First line: "epochs A reorderable B torn T states C unsynced U",
      U the writes after the last sync (what a cut after the command
      exited may lose).
  powercut.py build LOG PRISTINE OUT SPEC
      Write to OUT the file PRISTINE (what the command started from)
      with every epoch before E applied and the chosen subset of E.

A disk writes a 512-byte sector whole; torn writes are cut at 4 KiB
pages, as the page cache writes them back.
Exit status 2 on a bad record (an 'X' call it cannot replay)."""
import os
import subprocess
import struct
import sys

HDR = struct.Struct("<cIQQ")
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE = 0x01, 0x02, 0x10


def read_log(path):
    """The records as (op, mode, off, length, data-offset-in-log)."""
    recs = []
    with open(path, "rb") as f:
        while True:
            h = f.read(HDR.size)
            if not h:
                break
            if len(h) != HDR.size:
                sys.exit("powercut: %s: truncated record" % path)
            op, mode, off, ln = HDR.unpack(h)
            op = op.decode()
            if op == "X":
                print("powercut: the command made a call that cannot be replayed", file=sys.stderr)
                sys.exit(2)
            pos = f.tell()
            if op == "W":
                f.seek(ln, os.SEEK_CUR)
            recs.append((op, mode, off, ln, pos))
    return recs


def epochs(recs):
    """Lists of record indices between syncs; the last may be unsynced."""
    out, cur = [], []
    for i, r in enumerate(recs):
        if r[0] == "S":
            out.append(cur)
            cur = []
        else:
            cur.append(i)
    out.append(cur)
    return out


PAGE = 4096


def pages(rec):
    """How many 4 KiB pages write rec touches (0 if not a write)."""
    op, _, off, ln, _ = rec
    if op != "W" or not ln:
        return 0
    return (off + ln - 1) // PAGE - off // PAGE + 1


def torn(rec, last):
    """rec cut to its first (or last) page."""
    op, mode, off, ln, pos = rec
    if last:
        start = max(off, (off + ln - 1) // PAGE * PAGE)
    else:
        start = off
    end = min(off + ln, (off // PAGE + 1) * PAGE) if not last else off + ln
    return (op, mode, start, end - start, pos + (start - off))


def apply(fd, log, rec):
    op, mode, off, ln, pos = rec
    if op == "W":
        log.seek(pos)
        left, at = ln, off
        while left:
            b = log.read(min(left, 1 << 20))
            os.pwrite(fd, b, at)
            at += len(b)
            left -= len(b)
    elif op == "T":
        os.ftruncate(fd, off)
    elif op == "F":
        size = os.fstat(fd).st_size
        if mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE):
            end = min(off + ln, size) if mode & FALLOC_FL_KEEP_SIZE else off + ln
            at = off
            while at < end:
                n = min(end - at, 1 << 20)
                os.pwrite(fd, bytes(n), at)
                at += n
        elif not mode & FALLOC_FL_KEEP_SIZE and off + ln > size:
            os.ftruncate(fd, off + ln)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "states":
        k = int(sys.argv[3])
        recs = read_log(sys.argv[2])
        eps = epochs(recs)
        specs = []
        for e, ids in enumerate(eps):
            for j in range(len(ids)):
                if len(ids) >= 2:
                    specs.append("%d:only:%d" % (e, j))
                    if len(ids) > 2:   # with two writes, but:J is only:other
                        specs.append("%d:but:%d" % (e, j))
                if pages(recs[ids[j]]) >= 2:
                    specs.append("%d:torn:%d" % (e, j))
                    specs.append("%d:tornend:%d" % (e, j))
        pick = specs
        if len(specs) > k:
            pick = sorted({specs[(i * (len(specs) - 1)) // (k - 1)] for i in range(k)} if k > 1 else {specs[0]},
                          key=specs.index)
        print("epochs %d reorderable %d torn %d states %d unsynced %d" % (
            len(eps), sum(len(i) >= 2 for i in eps), sum(pages(r) >= 2 for r in recs), len(specs),
            len(eps[-1])))
        for s in pick:
            print(s)
    elif len(sys.argv) == 6 and sys.argv[1] == "build":
        log_path, pristine, out, spec = sys.argv[2:]
        recs = read_log(log_path)
        eps = epochs(recs)
        e, how, j = spec.split(":")
        e, j = int(e), int(j)
        if e >= len(eps) or j >= len(eps[e]) or how not in ("only", "but", "torn", "tornend"):
            sys.exit("powercut: no state %s" % spec)
        subprocess.run(["cp", "--sparse=always", pristine, out], check=True)
        with open(log_path, "rb") as log:
            fd = os.open(out, os.O_RDWR)
            try:
                for ids in eps[:e]:
                    for i in ids:
                        apply(fd, log, recs[i])
                for n, i in enumerate(eps[e]):
                    if how in ("torn", "tornend"):
                        if n < j:
                            apply(fd, log, recs[i])
                        elif n == j:
                            apply(fd, log, torn(recs[i], how == "tornend"))
                    elif (n == j) == (how == "only"):
                        apply(fd, log, recs[i])
            finally:
                os.close(fd)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


main()
