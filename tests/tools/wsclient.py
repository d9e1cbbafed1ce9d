#!/usr/bin/env python3
"""A minimal WebSocket client for t_serve (RFC 6455; no module needed).

usage: wsclient.py URL [--origin O] [--protocol P] [--send TEXT] [--expect TEXT]
                   [--timeout S]

Connects (ws:// only), sends TEXT (a binary frame) if given, then prints
what the server sends until the TEXT of --expect has been seen (exit 0),
the server closes ("CLOSE code reason" printed; exit 0 without --expect,
else 1) or the timeout passes (exit 1).  A refused handshake prints
"REFUSED <status line>" and exits 2.  "OPEN" is printed once the
handshake is done (stdout flushed), so a test can wait for it; with
--protocol (sent as Sec-WebSocket-Protocol) "OPEN PROTOCOL" names the one
the server chose ("-" for none)."""
import base64, os, socket, struct, sys, time
from urllib.parse import urlsplit

def main():
    a = sys.argv[1:]
    url = a.pop(0)
    opt = {"--origin": None, "--protocol": None, "--send": None, "--expect": None,
           "--timeout": "30"}
    while a:
        k = a.pop(0)
        opt[k] = a.pop(0)
    u = urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=float(opt["--timeout"]))
    key = base64.b64encode(os.urandom(16)).decode()
    path = u.path + ("?" + u.query if u.query else "")
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (path, u.hostname, u.port, key))
    if opt["--origin"]:
        req += "Origin: %s\r\n" % opt["--origin"]
    if opt["--protocol"]:
        req += "Sec-WebSocket-Protocol: %s\r\n" % opt["--protocol"]
    s.sendall((req + "\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0].decode(errors="replace")
    if " 101 " not in status + " ":
        print("REFUSED " + status)
        return 2
    if opt["--protocol"]:
        chosen = [l.split(b":", 1)[1].strip().decode() for l in head.split(b"\r\n")[1:]
                  if l.lower().startswith(b"sec-websocket-protocol:")]
        print("OPEN " + (chosen[0] if chosen else "-"), flush=True)
    else:
        print("OPEN", flush=True)
    if opt["--send"] is not None:
        p = opt["--send"].encode()
        mask = os.urandom(4)
        hdr = bytes([0x82]) + (bytes([0x80 | len(p)]) if len(p) < 126 else bytes([0x80 | 126]) + struct.pack(">H", len(p)))
        s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(p)))
    end = time.time() + float(opt["--timeout"])
    data, got = rest, b""
    while time.time() < end:
        while len(data) >= 2:
            op, ln = data[0] & 0x0F, data[1] & 0x7F
            off = 2
            if ln == 126:
                if len(data) < 4: break
                ln, off = struct.unpack(">H", data[2:4])[0], 4
            elif ln == 127:
                if len(data) < 10: break
                ln, off = struct.unpack(">Q", data[2:10])[0], 10
            if len(data) < off + ln:
                break
            payload, data = data[off:off + ln], data[off + ln:]
            if op == 8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 0
                print("CLOSE %d %s" % (code, payload[2:].decode(errors="replace")))
                return 1 if opt["--expect"] else 0
            if op in (1, 2):
                got += payload
                sys.stdout.write(payload.decode(errors="replace"))
                sys.stdout.flush()
                if opt["--expect"] and opt["--expect"].encode() in got:
                    print()
                    return 0
        s.settimeout(max(0.1, end - time.time()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            print("EOF")
            return 1
        data += d
    print("TIMEOUT")
    return 1

sys.exit(main())
