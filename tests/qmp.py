#!/usr/bin/env python3
"""Tiny QMP client for the tests: qmp.py SOCKET CMD [JSON-ARGS] ...
Connects, negotiates capabilities, runs each command (a name optionally
followed by one JSON object of arguments) and prints each "return" value
as one JSON line.  Exit 1 on an error reply."""
import json, socket, sys

def main():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(sys.argv[1])
    f = s.makefile("rw")
    json.loads(f.readline())                      # greeting

    def run(cmd, args=None):
        msg = {"execute": cmd}
        if args is not None:
            msg["arguments"] = args
        f.write(json.dumps(msg) + "\n")
        f.flush()
        while True:
            r = json.loads(f.readline())
            if "event" in r:
                continue
            if "error" in r:
                print(json.dumps(r["error"]), file=sys.stderr)
                sys.exit(1)
            return r["return"]

    run("qmp_capabilities")
    argv = sys.argv[2:]
    i = 0
    while i < len(argv):
        cmd, args = argv[i], None
        if i + 1 < len(argv) and argv[i + 1].startswith("{"):
            args = json.loads(argv[i + 1])
            i += 1
        print(json.dumps(run(cmd, args)))
        i += 1

main()
