#!/usr/bin/python3
"""A VNC client for the tests: the RFB 3.8 handshake up to ServerInit,
over VeNCrypt x509 (TLS) when the server offers it.

    vnctls.py HOST PORT [--ca CA.crt] [--cert C.crt --key C.key]

Prints "types N,M" (the security types offered), then for VeNCrypt
"subtypes S" and "tls ok" after the handshake (the server's certificate
checked against --ca, name "localhost"), and finally "desktop NAME"
from ServerInit; exits 0 then.  Any failure (the server closing the
connection, refusing the TLS handshake, a certificate that does not
verify) prints "error: WHY" and exits 1.  Only python3's stdlib."""
import socket
import ssl
import struct
import sys

VENCRYPT = 19
X509_NONE, X509_VNC, X509_PLAIN = 260, 261, 262


def need(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("server closed the connection after %d of %d bytes" % (len(b), n))
        b += c
    return b


def server_init(s):
    s.sendall(b"\x01")                       # ClientInit: shared
    w, h = struct.unpack(">HH", need(s, 4))
    need(s, 16)                              # pixel format
    (n,) = struct.unpack(">I", need(s, 4))
    print("desktop %s %dx%d" % (need(s, n).decode(errors="replace"), w, h))


def main(argv):
    host, port = argv[1], int(argv[2])
    opts = dict(zip(argv[3::2], argv[4::2]))
    s = socket.create_connection((host, port), timeout=20)
    ver = need(s, 12)
    if not ver.startswith(b"RFB 003."):
        raise ConnectionError("not an RFB server: %r" % ver)
    s.sendall(b"RFB 003.008\n")
    (n,) = need(s, 1)
    if n == 0:
        (l,) = struct.unpack(">I", need(s, 4))
        raise ConnectionError("refused: %s" % need(s, l).decode(errors="replace"))
    types = list(need(s, n))
    print("types " + ",".join(map(str, types)))
    if VENCRYPT not in types:
        if 1 not in types:
            raise ConnectionError("no security type this client speaks")
        s.sendall(b"\x01")                   # None
        if struct.unpack(">I", need(s, 4))[0] != 0:
            raise ConnectionError("security result: failed")
        server_init(s)
        return 0
    s.sendall(bytes([VENCRYPT]))
    if need(s, 2) != b"\x00\x02":
        raise ConnectionError("VeNCrypt version is not 0.2")
    s.sendall(b"\x00\x02")
    ack, k = need(s, 2)
    if ack != 0:
        raise ConnectionError("VeNCrypt version refused")
    subs = list(struct.unpack(">%dI" % k, need(s, 4 * k)))
    print("subtypes " + ",".join(map(str, subs)))
    if X509_NONE not in subs:
        raise ConnectionError("no x509 subtype without a password")
    s.sendall(struct.pack(">I", X509_NONE))
    if need(s, 1) != b"\x01":
        raise ConnectionError("subtype refused")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(opts["--ca"])
    if "--cert" in opts:
        ctx.load_cert_chain(opts["--cert"], opts["--key"])
    t = ctx.wrap_socket(s, server_hostname="localhost")
    print("tls ok")
    if struct.unpack(">I", need(t, 4))[0] != 0:
        raise ConnectionError("security result: failed")
    server_init(t)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, ValueError, KeyError, struct.error) as e:
        print("error: %s" % e)
        sys.exit(1)
