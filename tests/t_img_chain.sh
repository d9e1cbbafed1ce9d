#!/bin/bash
# Backing chains: create -b, info --backing-chain, rebase (safe and -u),
# commit; verified with qemu-img and qemu-io.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1

qcow2_ok

ok "qemu-img create base.raw" qemu-img create -q -f raw base.raw 32M
ok "fill base.raw" fill base.raw
ok "create overlay, size from backing" vmkit img create -f qcow2 -b base.raw ov.qcow2
qcheck "qemu-img check: overlay" ov.qcow2
eq "overlay size is the backing's" "$(qinfo ov.qcow2 virtual-size)" $((32 << 20))
eq "backing format recorded" "$(qinfo ov.qcow2 backing-filename-format)" raw
same_info "overlay" ov.qcow2
both_compare "empty overlay shows the base" base.raw ov.qcow2
has "info --backing-chain lists the base" "$(vmkit img info --backing-chain ov.qcow2)" "image: base.raw"
eq "json chain has two images" \
    "$(vmkit img info --json --backing-chain ov.qcow2 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 2

# Guest writes into the overlay (qemu-io, i.e. QEMU's own code).
ok "qemu-io writes the overlay" qemu-io -f qcow2 -c "write -P 0x55 0 64k" -c "write -P 0xaa 5M 1M" -c "write -z 1M 64k" ov.qcow2
ok "qemu-img convert the overlay to raw" qemu-img convert -O raw ov.qcow2 expect.raw
run_ok map vmkit img map --json ov.qcow2
has "map shows overlay data at depth 0" "$map" '"depth": 0'
has "map shows base data at depth 1" "$map" '"depth": 1'

# Safe rebase onto another base: the guest sees the same disk.
ok "qemu-img create other.raw" qemu-img create -q -f raw other.raw 32M
printf 'other base' | dd of=other.raw bs=1 seek=3000000 conv=notrunc status=none
cp ov.qcow2 sr.qcow2
ok "safe rebase" vmkit img rebase -b other.raw -F raw sr.qcow2
qcheck "qemu-img check: rebased" sr.qcow2
eq "new backing recorded" "$(qinfo sr.qcow2 backing-filename)" other.raw
both_compare "safe rebase keeps content" expect.raw sr.qcow2
ok "rebase onto no backing" vmkit img rebase -b "" sr.qcow2
eq "no backing now" "$(qinfo sr.qcow2 backing-filename)" "(none)"
both_compare "standalone after rebase -b ''" expect.raw sr.qcow2

# Unsafe rebase: only the header changes, so the content does.
cp ov.qcow2 ur.qcow2
ok "rebase -u" vmkit img rebase -u -b other.raw -F raw ur.qcow2
qcheck "qemu-img check: rebase -u" ur.qcow2
eq "-u recorded the new backing" "$(qinfo ur.qcow2 backing-filename)" other.raw
fails "-u changes what the guest sees" 1 vmkit img compare expect.raw ur.qcow2

# Commit: the base then holds what the guest saw through the overlay.
cp base.raw cbase.raw
ok "qemu-img create cov.qcow2" qemu-img create -q -f qcow2 -b cbase.raw -F raw cov.qcow2
ok "qemu-io writes cov.qcow2" qemu-io -f qcow2 -c "write -P 0x55 0 64k" -c "write -P 0xaa 5M 1M" -c "write -z 1M 64k" cov.qcow2
ok "commit" vmkit img commit cov.qcow2
both_compare "base after commit" expect.raw cbase.raw
both_compare "overlay still shows the same disk" expect.raw cov.qcow2
qcheck "qemu-img check: overlay after commit" cov.qcow2

# Commit into a qcow2 base made by qemu-img.
ok "qemu-img convert base.raw to qcow2" qemu-img convert -O qcow2 base.raw qbase.qcow2
ok "qemu-img create qov.qcow2" qemu-img create -q -f qcow2 -b qbase.qcow2 -F qcow2 qov.qcow2
ok "qemu-io writes qov.qcow2" qemu-io -f qcow2 -c "write -P 0x55 0 64k" -c "write -P 0xaa 5M 1M" -c "write -z 1M 64k" qov.qcow2
ok "commit into qcow2" vmkit img commit qov.qcow2
qcheck "qemu-img check: qcow2 base after commit" qbase.qcow2
both_compare "qcow2 base after commit" expect.raw qbase.qcow2
finish
