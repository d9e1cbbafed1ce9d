#!/usr/bin/env python3
"""Drive `vmkit console NAME` on a pseudo-terminal, as a user at a terminal.

usage: ptyconsole.py VMKIT NAME TOKEN

Sends "echo TOKEN-$((6*7))" + Enter, waits for "TOKEN-42" in the output,
checks the terminal is in raw mode meanwhile,
then presses Ctrl-] and expects vmkit to leave by itself.  Checks that the
terminal's modes are the same after the session as before it (vmkit puts
it in raw mode for the session only).  Prints one word per finding
(ANSWER, RAW, LEFT, RESTORED) and exits 0 when all four hold, 1 otherwise;
what the console showed goes to stderr.
"""
import os, pty, select, subprocess, sys, termios, time

vmkit, name, token = sys.argv[1:4]
fd, slave = pty.openpty()
# Our copy of the slave stays open: its modes can be read after vmkit ends.
before = termios.tcgetattr(slave)
child = subprocess.Popen([vmkit, "console", name], stdin=slave, stdout=slave,
                         stderr=slave, start_new_session=True)
pid = child.pid
time.sleep(0.3)
out = b""

def read_until(pred, secs):
    global out
    end = time.time() + secs
    while time.time() < end and not pred():
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                b = os.read(fd, 4096)
            except OSError:
                return False
            if not b:
                return False
            out += b
    return pred()

found = []
os.write(fd, b"\r")
time.sleep(0.3)
os.write(fd, ("echo %s-$((6*7))\r" % token).encode())
if read_until(lambda: (token + "-42").encode() in out, 15):
    found.append("ANSWER")
if not termios.tcgetattr(slave)[3] & (termios.ICANON | termios.ECHO):
    found.append("RAW")
os.write(fd, b"\x1d")
end = time.time() + 5
status = None
while time.time() < end:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        status = st
        break
    read_until(lambda: False, 0.1)
if status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
    found.append("LEFT")
else:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
try:
    read_until(lambda: False, 0.2)
    after = termios.tcgetattr(slave)
    if after == before:
        found.append("RESTORED")
except termios.error:
    pass
print(" ".join(found))
sys.stderr.write(out.decode("latin-1"))   # what the console showed
if len(found) != 4:
    sys.exit(1)
