#!/usr/bin/env python3
"""Ask the guest itself: guestsh.py SOCKET CMD [SECS]

Connects to a VM's serial console socket (QEMU's own chardev: no vmkit
code is in the path), types CMD on the guest's shell between two markers
and prints what the guest printed between them, carriage returns
removed.  The shell echoes what is typed, so the markers are typed split
by quotes ("TAG""-B") and appear whole only in the guest's output.
Exit 1 when the end marker does not come within SECS (default 20).
CMD is typed again every 5 s until the guest answers (input before its
shell opened the port is lost), so it must be safe to run twice.  Only
one client at a time can hold the socket: run it while no `vmkit
console` session is attached.
"""
import os, socket, sys, time

sock, cmd = sys.argv[1], sys.argv[2]
secs = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0
tag = "VKGSH%d" % os.getpid()
end = time.time() + secs
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
while True:
    try:
        s.connect(sock)
        break
    except OSError:
        if time.time() > end:
            sys.exit("guestsh: cannot connect to %s" % sock)
        time.sleep(0.2)
s.settimeout(0.2)
line = ('\necho "%s""-B"; %s; echo "%s""-E"\n' % (tag, cmd, tag)).encode()
out = b""
begin, stop = (tag + "-B\r\n").encode(), (tag + "-E").encode()
sent = 0
while time.time() < end:
    # typed again every 5 s until the guest starts answering: what is typed
    # before its shell opens the serial port is lost
    if out.find(begin) < 0 and time.time() - sent > 5:
        s.sendall(line)
        sent = time.time()
    try:
        b = s.recv(4096)
        if not b:
            break
        out += b
    except socket.timeout:
        pass
    i = out.find(begin)
    if i >= 0 and out.find(stop, i) >= 0:
        body = out[i + len(begin):out.find(stop, i)]
        sys.stdout.write(body.decode("utf-8", "replace").replace("\r", ""))
        sys.exit(0)
sys.stderr.write("guestsh: no answer within %g s; the console showed:\n%s\n"
                 % (secs, out.decode("latin-1")[-2000:]))
sys.exit(1)
