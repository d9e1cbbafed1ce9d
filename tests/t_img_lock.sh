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
# Wait until QEMU holds the image; a loaded machine can take many seconds
# to start QEMU (lib.sh's qemu_locked; QEMU's own message if it dies).
eq "QEMU holds the image's lock" "$(qemu_locked x.qcow2 "$qpid" "$T/qemu.err")" yes
fails_with "resize of an image a running QEMU writes" 1 "x.qcow2" vmkit img resize x.qcow2 +1M
has "message says it is in use" "$(vmkit img resize x.qcow2 +1M 2>&1)" "in use"
fails_with "rebase -u refused while locked" 1 "x.qcow2" vmkit img rebase -u -b y.qcow2 x.qcow2
kill "$qpid"
wait "$qpid" 2>/dev/null
eq "image size unchanged" "$(qemu-img info --output=json x.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')" 16777216
finish
