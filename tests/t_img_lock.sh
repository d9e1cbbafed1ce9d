#!/bin/bash
# vmkit respects QEMU's image locks: while a QEMU process has an image
# open for writing, vmkit refuses to change it and says which file.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

need qemu-system-x86_64 || { finish; exit; }
ok "qemu-img create x.qcow2" qemu-img create -q -f qcow2 x.qcow2 16M
qemu-system-x86_64 -nodefaults -display none -S -drive file=x.qcow2,format=qcow2,if=virtio \
    2>"$T/qemu.err" &
qpid=$!
# Wait until QEMU holds the image (qemu-img itself then fails to lock it).
# A loaded machine can take many seconds to start QEMU: poll, and stop
# early (with QEMU's own message) if it dies instead.
locked=0
for _ in $(seq 600); do
    if ! qemu-img info x.qcow2 >/dev/null 2>&1; then locked=1; break; fi
    kill -0 "$qpid" 2>/dev/null || break
    sleep 0.1
done
if [ $locked = 1 ]; then _report 0 "QEMU holds the image's lock"; else
    { echo "QEMU did not lock x.qcow2 within 60 s"; cat "$T/qemu.err"; } >"$T/.out"
    _report 1 "QEMU holds the image's lock" "$T/.out"; fi
fails_with "resize of an image a running QEMU writes" 1 "x.qcow2" vmkit img resize x.qcow2 +1M
has "message says it is in use" "$(vmkit img resize x.qcow2 +1M 2>&1)" "in use"
fails_with "rebase -u refused while locked" 1 "x.qcow2" vmkit img rebase -u -b y.qcow2 x.qcow2
kill "$qpid"
wait "$qpid" 2>/dev/null
eq "image size unchanged" "$(qemu-img info --output=json x.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')" 16777216
finish
