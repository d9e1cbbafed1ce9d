#!/usr/bin/env python3
"""Drive a headless Chromium through the DevTools protocol (python3's
stdlib only: a minimal RFC 6455 client), one step per call, so a shell
test checks each step.  The browser's user-data dir holds the port
(DevToolsActivePort, written when started with --remote-debugging-port=0).

usage: cdp.py DATADIR STEP ARG...   one step (on the first page, or with
                                    CDP_URL=TEXT in the environment the
                                    first whose URL has TEXT, waiting up
                                    to 30 s for one to open)
       cdp.py DATADIR -             steps on stdin, one a line, the step
                                    and its args separated by \x1f; each
                                    answered by "RC\x1fOUTPUT" on one line
                                    (one process and one connection for a
                                    whole test: python's start-up is slow
                                    on a loaded machine)
  eval EXPR           print the value of EXPR (JSON; promises awaited)
  wait EXPR SECS      until EXPR is truthy (exit 0) or SECS pass (exit 1;
                      the last value printed either way)
  click SELECTOR      a real mouse click at the middle of that element
  type TEXT           key events for each character (a backslash and n,
                      or a newline, send Enter)
  shot FILE [SEL]     a PNG screenshot of the page (or of the element SEL),
                      brought to the front first
Exit 2 when the browser cannot be reached or answers with an error."""
import base64, json, os, socket, struct, sys, time
from urllib.parse import urlsplit
from urllib.request import urlopen


class Ws:
    def __init__(self, url):
        u = urlsplit(url)
        self.s = socket.create_connection((u.hostname, u.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n" % (u.path, u.hostname, u.port, key)).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                raise OSError("handshake: connection closed")
            self.buf += d
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0] + b" ":
            raise OSError("handshake: " + head.split(b"\r\n")[0].decode(errors="replace"))
        self.seq = 0

    def send(self, text):
        p, mask = text.encode(), os.urandom(4)
        n = len(p)
        hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                               bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                               bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(p)))

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(1 << 20)
            if not d:
                raise OSError("connection closed")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._need(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._need(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._need(8))[0]
            payload = self._need(n)
            if b0 & 0x0F == 8:
                raise OSError("closed by the browser")
            msg += payload
            if b0 & 0x80:
                return msg.decode()

    def call(self, method, **params):
        self.seq += 1
        self.send(json.dumps({"id": self.seq, "method": method, "params": params}))
        while True:
            r = json.loads(self.recv())
            if r.get("id") == self.seq:
                if "error" in r:
                    raise OSError("%s: %s" % (method, r["error"].get("message")))
                return r["result"]


def connect(datadir):
    port = open(os.path.join(datadir, "DevToolsActivePort")).readline().strip()
    want, end = os.environ.get("CDP_URL", ""), time.time() + 30
    while True:
        targets = json.load(urlopen("http://127.0.0.1:%s/json/list" % port, timeout=10))
        pages = [t for t in targets if t.get("type") == "page" and want in t.get("url", "")]
        if pages or time.time() > end:
            break
        time.sleep(0.2)
    if not pages:
        raise OSError("no page with %r in its URL" % want)
    return Ws(pages[0]["webSocketDebuggerUrl"])


def evaluate(ws, expr):
    r = ws.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
    if "exceptionDetails" in r:
        return "(exception: %s)" % r["exceptionDetails"].get("exception", {}).get("description", r["exceptionDetails"].get("text"))
    return r["result"].get("value")


def key(ws, ch):
    if ch == "\n":
        ev = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"}
    else:
        ev = {"key": ch, "text": ch, "unmodifiedText": ch}
    ws.call("Input.dispatchKeyEvent", type="keyDown", **ev)
    ws.call("Input.dispatchKeyEvent", type="keyUp", **{k: v for k, v in ev.items() if k not in ("text", "unmodifiedText")})


def step(ws, name, args):
    """One step: (exit status, its output on one line)."""
    if name == "eval":
        return 0, json.dumps(evaluate(ws, args[0]))
    if name == "wait":
        end = time.time() + float(args[1])
        while True:
            v = evaluate(ws, args[0])
            if v and not (isinstance(v, str) and v.startswith("(exception:")):
                return 0, json.dumps(v)
            if time.time() > end:
                return 1, json.dumps(v)
            time.sleep(0.1)
    if name == "click":
        box = evaluate(ws, "(() => { const e = document.querySelector(%s); if (!e) return null;"
                           " e.scrollIntoView(); const r = e.getBoundingClientRect();"
                           " return [r.x + r.width / 2, r.y + r.height / 2]; })()" % json.dumps(args[0]))
        if not box:
            return 1, "no element %s" % args[0]
        for t in ("mouseMoved", "mousePressed", "mouseReleased"):
            ws.call("Input.dispatchMouseEvent", type=t, x=box[0], y=box[1], button="left", clickCount=1)
        return 0, ""
    if name == "type":
        for ch in args[0].replace("\\n", "\n"):
            key(ws, ch)
        return 0, ""
    if name == "shot":
        clip = {}
        if len(args) > 1:
            box = evaluate(ws, "(() => { const e = document.querySelector(%s); if (!e) return null;"
                               " const r = e.getBoundingClientRect();"
                               " return {x: r.x, y: r.y, width: r.width, height: r.height, scale: 1}; })()"
                               % json.dumps(args[1]))
            if not box or not box["width"] or not box["height"]:
                return 1, "no element %s (or it has no size)" % args[1]
            clip = {"clip": box}
        # a page in a background tab draws no frames, and the capture
        # would wait for one: the page comes to the front first
        ws.call("Page.bringToFront")
        png = base64.b64decode(ws.call("Page.captureScreenshot", format="png", **clip)["data"])
        with open(args[0], "wb") as f:
            f.write(png)
        return 0, ""
    return 2, "unknown step %s" % name


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    ws = connect(sys.argv[1])
    if sys.argv[2] != "-":
        rc, out = step(ws, sys.argv[2], sys.argv[3:])
        print(out, file=sys.stdout if rc == 0 or sys.argv[2] == "wait" else sys.stderr)
        return rc
    for line in sys.stdin:
        a = line.rstrip("\n").split("\x1f")
        try:
            rc, out = step(ws, a[0], a[1:])
        except (ValueError, IndexError, KeyError) as e:
            rc, out = 2, "cdp: %s" % e
        print("%d\x1f%s" % (rc, out.replace("\n", " ")), flush=True)
    return 0


try:
    sys.exit(main())
except (OSError, ValueError, IndexError, KeyError) as e:
    print("cdp: %s" % e, file=sys.stderr)
    sys.exit(2)
