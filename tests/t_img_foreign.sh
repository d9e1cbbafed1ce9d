#!/bin/bash
# Image formats vmkit cannot read are never mistaken for raw disks.
# Images qemu-img makes (qed, parallels, luks; VMDK, VDI, VHD and VHDX have
# drivers: t_img_vmdk, t_img_vdi, t_img_vhd, t_img_vhdx; qemu-img info names the format: the
# oracle) and hand-made headers of the rest (bochs, cloop, dmg, qcow v1:
# the seeds of fuzz/corpus/fuzz_probe) are refused by name by every
# command that opens an image - img info/check/map/compare/convert, part,
# fs - and convert leaves no output behind.  -f raw still takes the bytes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
cd "$T" || exit 1
SEEDS=$TOP/fuzz/corpus/fuzz_probe

# refused FILE DESC: every command refuses FILE naming DESC.
refused() {
    f=$1; d=$2
    msg="$f: $d: vmkit cannot read this format; use --format raw"
    fails_with "$f: img info" 1 "$msg" vmkit img info "$f"
    fails_with "$f: img check" 1 "$msg" vmkit img check "$f"
    fails_with "$f: img map" 1 "$msg" vmkit img map "$f"
    fails_with "$f: img compare" 2 "$msg" vmkit img compare "$f" "$f"
    fails_with "$f: img convert" 1 "$msg" vmkit img convert "$f" "$f.out"
    eq "$f: convert left no output" "$(ls "$f.out" 2>&1 >/dev/null | grep -c 'No such file')" 1
    fails_with "$f: part list" 1 "$msg" vmkit part list "$f"
    fails_with "$f: fs ls" 1 "$msg" vmkit fs ls "$f:/"
    ok "$f: -f raw takes the bytes" vmkit img info -f raw "$f"
    eq "$f: -f raw size is the file size" "$(vinfo_raw "$f")" "$(stat -c %s "$f")"
}
vinfo_raw() {
    vmkit img info -f raw --json "$1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])'
}

# made FMT FILE DESC [qemu-img create options]: qemu-img makes it, says
# it is FMT, and vmkit refuses it.
made() {
    fmt=$1; f=$2; d=$3; shift 3
    if ! qemu-img create -q -f "$fmt" "$@" "$f" 4M >/dev/null 2>&1; then
        skip "$f" "qemu-img cannot create $fmt here"; return
    fi
    eq "$f: qemu-img calls it $fmt" "$(qinfo "$f" format)" "$fmt"
    refused "$f" "$d"
}
made qed t.qed "QED image"
made parallels t.hdd "Parallels image"
if qemu-img create -q -f luks --object secret,id=s0,data=pw -o key-secret=s0 t.luks 4M; then
    eq "t.luks: qemu-img calls it luks" "$(qinfo t.luks format)" luks
    refused t.luks "LUKS-encrypted volume"
fi
# Hand-made headers (the probe fuzz seeds).
for s in bochs:"Bochs image" cloop:"cloop image" dmg:"DMG image (Apple disk image)" \
         parallels_ext:"Parallels image"; do
    cp "$SEEDS/${s%%:*}" "${s%%:*}.img"
    refused "${s%%:*}.img" "${s#*:}"
done

# Not every lookalike is foreign: a Parallels magic with another version
# and plain zeroes are raw disks, as for qemu-img.
cp "$SEEDS/parallels_v1" pv1.img
eq "Parallels magic, version 1: qemu-img says raw" "$(qinfo pv1.img format)" raw
ok "Parallels magic, version 1: vmkit opens it as raw" vmkit img info pv1.img
# What used to happen: convert took the QED's bytes for the disk.
head -c 4M /dev/urandom >data.raw
ok "qemu-img makes a QED with data" qemu-img convert -O qed data.raw data.qed
fails_with "convert of a QED refused" 1 "QED image" vmkit img convert data.qed out.img
ok "no out.img left behind" test ! -e out.img
finish
