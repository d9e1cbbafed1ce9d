#!/usr/bin/env python3
"""The serial console's round trip without browser or serve, for
bench/console_rtt.sh: console_echo.py SOCKET N

Connects to a VM's console socket (QEMU's own chardev), clears the
guest shell's line (Ctrl-U, Enter: a fresh prompt), then for N letters
(a..y, the line cleared again, untimed, between batches of 25) writes
one letter and times until the guest's echo of it comes back on the
socket (time.perf_counter; each echo waited for before the next key).
Prints one round trip per line in ms, as the page measures it in
bench/console_rtt.sh.
Only one client at a time can hold the socket.
"""
import socket, sys, time

sock, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)


def drain(secs):
    """Read what comes until SECS pass without a byte."""
    s.settimeout(secs)
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        pass


def clear():
    s.sendall(b"\x15\r")
    drain(0.3)


clear()
letters = "abcdefghijklmnopqrstuvwxy"
s.settimeout(10)
for i in range(n):
    if i and i % len(letters) == 0:
        clear()
        s.settimeout(10)
    ch = letters[i % len(letters)].encode()
    t0 = time.perf_counter()
    s.sendall(ch)
    got = b""
    while ch not in got:
        try:
            b = s.recv(4096)
        except socket.timeout:
            sys.exit("console_echo: no echo of %r within 10 s" % ch)
        if not b:
            sys.exit("console_echo: the console closed")
        got += b
    t1 = time.perf_counter()
    print("%.3f" % ((t1 - t0) * 1000), flush=True)
clear()
