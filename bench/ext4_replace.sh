#!/bin/bash
# Replace one small file inside the ext4 partition of a disk image:
# `vmkit fs write disk.qcow2:1:/etc/hostname`, 50 calls, mean wall time
# per call (target < 20 ms).  The disk is a 4 GiB qcow2 (raw while the
# qcow2 driver is not available) with an MBR and one ext4 partition
# holding a few thousand files.  The result is checked with e2fsck -fn.
# guestfish / virt-copy-in (libguestfs) are the usual tools for this; they
# are reported when not installed.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKIT=${VMKIT:-$TOP/build/vmkit}
D=$(mktemp -d "${TMPDIR:-/tmp}/vmkit-bench.XXXXXX")
trap 'rm -rf "$D"' EXIT
N=50

fmt=qcow2
"$VMKIT" img create -f qcow2 "$D/disk.qcow2" 4G >/dev/null 2>&1 || fmt=raw
disk=$D/disk.$fmt
[ $fmt = raw ] && "$VMKIT" img create -f raw "$disk" 4G >/dev/null
"$VMKIT" part init "$disk" mbr >/dev/null && "$VMKIT" part add "$disk" --type linux >/dev/null || exit 1
mkdir -p "$D/tree/etc"
(cd /usr/share && find . -type f -print 2>/dev/null | head -n 3000 | cpio -pdm --quiet "$D/tree/usr" 2>/dev/null)
echo old >"$D/tree/etc/hostname"
"$VMKIT" fs mkfs -t ext4 --from "$D/tree" "$disk:1" || exit 1

s=$(date +%s%N)
for i in $(seq 1 $N); do
    echo "host-$i" | "$VMKIT" fs write "$disk:1:/etc/hostname" || exit 1
done
e=$(date +%s%N)
ms=$(echo "scale=2; ($e - $s) / 1000000 / $N" | bc)
got=$("$VMKIT" fs cat "$disk:1:/etc/hostname")
raw=$disk
[ $fmt = qcow2 ] && { raw=$D/disk.raw; qemu-img convert -O raw "$disk" "$raw"; }
off=$(( $(sfdisk -d "$raw" | sed -n 's/.*start= *\([0-9]*\),.*/\1/p' | head -1) * 512 ))
if e2fsck -fn "$raw?offset=$off" >"$D/fsck" 2>&1; then fsck=clean; else fsck="NOT CLEAN"; fi
dbg=$(debugfs -R 'cat /etc/hostname' "$raw?offset=$off" 2>/dev/null)
echo "replace /etc/hostname in the ext4 partition of a $fmt disk, $N calls"
printf 'vmkit fs write:  %6.2f ms per call   (target < 20 ms; e2fsck -fn %s; debugfs reads "%s", vmkit "%s")\n' \
    "$ms" "$fsck" "$dbg" "$got"
for t in guestfish virt-copy-in; do
    command -v $t >/dev/null 2>&1 && echo "$t: installed, not timed" || echo "$t: not installed"
done
[ "$fsck" = clean ] && [ "$dbg" = "host-$N" ]
