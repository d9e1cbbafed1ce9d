#!/usr/bin/env python3
"""A stand-in for mmdebstrap, for tests that need no network.

Called as vmkit calls mmdebstrap (options, SUITE, "-", mirror lines), it
writes a small root tree as a tar stream on stdout, the way mmdebstrap
--format=tar does: a kernel and initramfs in /boot, owners other than
root, a hard link, device nodes, a file with security.capability, and the
files vmkit's hooks upload ("upload SRC DST").  Other hooks (sync-in,
sync-out, mkdir, chroot) are not run; the whole command line is kept in
/var/log/fake-mmdebstrap.args (one argument a line) for the test to read.

FAKE_MMDEBSTRAP selects a failure: "fail" (E: line, exit 1, no output),
"cut" (half a tar stream, then exit 1), "big" (a 48 MiB file),
"nokernel" (no /boot/vmlinuz-*), "slow" (sleeps before writing; for the
test that vmkit stops it).
"""
import io
import os
import sys
import tarfile
import time

KVER = "6.1.0-99-cloud-amd64"
mode = os.environ.get("FAKE_MMDEBSTRAP", "")
args = sys.argv[1:]
sys.stderr.write("I: fake mmdebstrap, %d arguments\n" % len(args))
if mode == "fail":
    sys.stderr.write("I: running apt-get update...\n")
    sys.stderr.write("E: Failed to fetch http://deb.debian.org/debian/dists/nosuch/InRelease  404  Not Found\n")
    sys.exit(1)
if mode == "slow":
    time.sleep(60)

uploads = []
for a in args:
    for h in ("--setup-hook=", "--essential-hook=", "--customize-hook="):
        if a.startswith(h):
            w = a[len(h):].split()
            if len(w) == 3 and w[0] == "upload":
                uploads.append((w[1], w[2]))
pos = [a for a in args if not a.startswith("--")]
if len(pos) < 2 or pos[1] != "-":
    sys.stderr.write("E: fake mmdebstrap wants SUITE - MIRROR..., got %r\n" % pos)
    sys.exit(2)

buf = io.BytesIO()
out = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)


def add(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, **kw):
    t = tarfile.TarInfo("./" + name)
    t.type = kind
    t.mode = mode
    t.uid, t.gid = uid, gid
    t.mtime = 1700000000
    for k, v in kw.items():
        setattr(t, k, v)
    if kind == tarfile.REGTYPE:
        t.size = len(data)
        out.addfile(t, io.BytesIO(data))
    else:
        out.addfile(t)


add("", tarfile.DIRTYPE, mode=0o755)
for d in ("boot", "etc", "dev", "usr", "usr/bin", "usr/share", "var", "var/log", "var/mail", "tmp",
          "root", "home", "home/user"):
    add(d, tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o700 if d == "root" else 0o755)
add("var/mail", tarfile.DIRTYPE, mode=0o2775, gid=8)
add("home/user", tarfile.DIRTYPE, mode=0o755, uid=1000, gid=1000)
add("home/user/notes", data=b"mine\n", uid=1000, gid=1000)
if mode != "nokernel":
    add("boot/vmlinuz-" + KVER, data=b"not really a kernel\n" * 100)
    add("boot/initrd.img-" + KVER, data=b"not really an initramfs\n" * 100)
add("etc/passwd", data=b"root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/sh\n")
add("usr/bin/perl", data=b"#!/bin/false\n", mode=0o755)
add("usr/bin/perl5.36", tarfile.LNKTYPE, linkname="./usr/bin/perl", mode=0o755)
add("usr/bin/ping", data=b"\x7fELF ping\n", mode=0o755,
    pax_headers={"SCHILY.xattr.security.capability":
                 "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"})
add("usr/bin/su", data=b"\x7fELF su\n", mode=0o4755)
add("usr/share/NetLock_Arany_F\u0151tan\u00fas\u00edtv\u00e1ny.crt", data=b"cert\n")
add("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3)
add("dev/sda", tarfile.BLKTYPE, mode=0o660, gid=6, devmajor=8, devminor=0)
add("dev/fd", tarfile.SYMTYPE, linkname="/proc/self/fd", mode=0o777)
add("var/log/fake-mmdebstrap.args", data=("\n".join(sys.argv[1:]) + "\n").encode())
if mode == "big":
    add("var/big", data=os.urandom(48 << 20))
for src, dst in uploads:
    with open(src, "rb") as f:
        add(dst.lstrip("/"), data=f.read(), mode=os.stat(src).st_mode & 0o7777)
out.close()
data = buf.getvalue()
if mode == "cut":
    sys.stdout.buffer.write(data[:len(data) // 2])
    sys.stdout.flush()
    sys.stderr.write("E: write error: disk full\n")
    sys.exit(1)
sys.stdout.buffer.write(data)
