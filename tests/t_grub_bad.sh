#!/bin/bash
# install-grub refuses what it cannot do, with a clear message, exit 1 (2
# for usage), and the image byte-identical afterwards (cmp with a copy):
# no room before the first partition, a first partition at sector 1, GPT
# without a BIOS boot partition or with one too small, no partition table
# (empty, or the whole disk one filesystem), swap / extended / BIOS boot /
# missing partitions as --part, an image a running QEMU holds, grub-mkimage
# or GRUB's files missing, kernel arguments GRUB would interpret.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/grub_lib.sh"
cd "$T" || exit 1
need_grub

# refused CODE MSG IMG ARGS...: exit CODE with MSG, IMG unchanged
refused() {
    _d=$1 _c=$2 _m=$3 _img=$4; shift 4
    cp "$_img" "$T/.copy"
    fails_with "$_d" "$_c" "$_m" "$@"
    ok "$_d: image unchanged (cmp)" cmp "$_img" "$T/.copy"
}

# tables made by sfdisk (vmkit's part add keeps to 1 MiB alignment)
mkt() {  # img script [fs]
    rm -f "$1"; truncate -s 64M "$1"
    echo "$2" | sfdisk -q "$1" >/dev/null 2>&1
    [ -z "${3:-}" ] || vmkit fs mkfs -t "$3" "$1:1" >/dev/null
}

mkt s1.img 'start=1, size=100000, type=83' ext4
refused "first partition at sector 1" 1 "the first partition starts at sector 1, leaving 0 sectors" \
    s1.img vmkit boot install-grub s1.img
has "... says how many sectors GRUB needs" "$(vmkit boot install-grub s1.img 2>&1)" "needs 5"

mkt s40.img 'start=40, type=83' ext4
refused "no room: 39 sectors of gap" 1 "leaving 39 sectors before it" s40.img vmkit boot install-grub s40.img
has "... and what to do" "$(vmkit boot install-grub s40.img 2>&1)" "Start the first partition at sector 2048"

ok "GPT without a BIOS boot partition" sh -c "\"$VMKIT\" img create -f qcow2 g.qcow2 64M >/dev/null &&
    \"$VMKIT\" part init g.qcow2 gpt && \"$VMKIT\" part add g.qcow2 >/dev/null && \"$VMKIT\" fs mkfs -t ext4 g.qcow2:1 >/dev/null"
refused "GPT without a BIOS boot partition" 1 "GPT disk without a BIOS boot partition" \
    g.qcow2 vmkit boot install-grub g.qcow2
has "... says how to add one" "$(vmkit boot install-grub g.qcow2 2>&1)" "vmkit part add g.qcow2 --size 1M --type bios_grub"
ok "qemu-img check after the refusal" qemu-img check -q g.qcow2

ok "GPT with a 16 KiB BIOS boot partition" sh -c "\"$VMKIT\" img create gs.img 64M >/dev/null &&
    \"$VMKIT\" part init gs.img gpt && \"$VMKIT\" part add gs.img --size 16K --type bios_grub >/dev/null &&
    \"$VMKIT\" part add gs.img >/dev/null && \"$VMKIT\" fs mkfs -t ext4 gs.img:2 >/dev/null"
refused "BIOS boot partition too small" 1 "the BIOS boot partition has 32 sectors" gs.img vmkit boot install-grub gs.img

rm -f bare.img; truncate -s 32M bare.img
refused "no partition table" 1 "bare.img: no partition table (make one: vmkit part init" \
    bare.img vmkit boot install-grub bare.img
mke2fs -q -F -t ext4 bare.img >/dev/null 2>&1
refused "the whole disk one ext4 filesystem" 1 "the whole disk is one ext4 filesystem, where GRUB can embed nothing" \
    bare.img vmkit boot install-grub bare.img
ok "e2fsck -fn: the filesystem is intact" e2fsck -fn bare.img

ok "MBR disk: swap, extended, ext4 in a logical" sh -c "\"$VMKIT\" img create p.img 64M >/dev/null &&
    \"$VMKIT\" part init p.img mbr && \"$VMKIT\" part add p.img --size 8M --type swap >/dev/null &&
    \"$VMKIT\" part add p.img --type extended >/dev/null && \"$VMKIT\" part add p.img --logical >/dev/null &&
    \"$VMKIT\" fs mkfs -t swap p.img:1 >/dev/null && \"$VMKIT\" fs mkfs -t ext4 p.img:5 >/dev/null"
refused "--part on swap" 1 "p.img:1: swap space, not a filesystem" p.img vmkit boot install-grub --part 1 p.img
refused "--part on the extended partition" 1 "p.img:2: an extended partition" p.img vmkit boot install-grub --part 2 p.img
refused "--part on a missing partition" 1 "p.img: no partition 9" p.img vmkit boot install-grub --part 9 p.img
refused "--part on the BIOS boot partition" 1 "the BIOS boot partition is where GRUB's core image goes" \
    gs.img vmkit boot install-grub --part 1 gs.img
mkt raw.img 'start=2048, type=83'
refused "--part on a partition with no filesystem" 1 "raw.img:1: no filesystem" raw.img vmkit boot install-grub --part 1 raw.img
refused "no partition with a filesystem GRUB reads" 1 "raw.img: no partition holds /boot" raw.img vmkit boot install-grub raw.img
ok "a logical partition is fine (auto: the first Linux one)" vmkit boot install-grub p.img
has "... its files on partition 5" "$(grub-fstest p.img ls '(loop0,msdos5)/boot/grub' 2>&1)" "grub.cfg"

# kernel arguments GRUB's script syntax would read as more than words
ok "an ext4 MBR disk" mkgrubdisk d.img raw mbr ext4
refused "--append with ';'" 1 "characters GRUB's script syntax would interpret" \
    d.img vmkit boot install-grub --append 'quiet; reboot' d.img
refused "--append with a newline" 1 "would interpret" d.img vmkit boot install-grub --append "$(printf 'a\nb')" d.img

# GRUB's tools or files missing
mkdir -p bin; ln -sf "$(command -v env)" bin/env
refused "grub-mkimage missing" 1 "install Debian's grub-pc-bin" d.img env PATH="$T/bin" "$VMKIT" boot install-grub --no-cache d.img
refused "--grub-dir without GRUB's files" 1 "$T/nogrub/boot.img" d.img vmkit boot install-grub --grub-dir "$T/nogrub" d.img
mkdir -p fake; printf '#!/bin/sh\necho "grub-mkimage: error: cannot open kernel.img." >&2\nexit 1\n' >fake/grub-mkimage
chmod +x fake/grub-mkimage
# On a disk with the usual 1 MiB gap grub-mkimage runs while the modules
# are copied (as grub-install copies them before running it): a failing
# grub-mkimage leaves the modules and nothing else.  Where the gap is
# smaller the core is built first and a failure leaves the image as it was.
cp d.img d0.img
fails_with "grub-mkimage failing: its message" 1 "cannot open kernel.img" \
    env PATH="$T/fake:$PATH" "$VMKIT" boot install-grub --no-cache d.img
ok "... boot code and the gap before partition 1 unchanged" cmp -n 1048576 d.img d0.img
ok "... e2fsck -fn clean" sh -c "dd if=d.img of=d.p1 bs=1M skip=1 status=none && e2fsck -fn d.p1"
has "... GRUB's modules copied, as grub-install does first" \
    "$(debugfs -R 'ls -l /boot/grub/i386-pc' d.p1 2>/dev/null)" "normal.mod"
none "... but no core.img, no boot.img, no grub.cfg" \
    sh -c "debugfs -R 'ls /boot/grub' d.p1 2>/dev/null | grep -oE 'grub.cfg|core.img|boot.img' || true
           debugfs -R 'ls /boot/grub/i386-pc' d.p1 2>/dev/null | grep -oE 'core.img|boot.img' || true"
cp d0.img d.img; rm -f d0.img d.p1
ok "a disk whose gap is 128 sectors" sh -c "rm -f sg.img && truncate -s 64M sg.img &&
    echo 'start=128, type=83' | sfdisk -q sg.img >/dev/null && \"$VMKIT\" fs mkfs -t ext4 sg.img:1 >/dev/null"
refused "grub-mkimage failing, small gap: its message" 1 "cannot open kernel.img" sg.img \
    env PATH="$T/fake:$PATH" "$VMKIT" boot install-grub --no-cache sg.img

# an image a running QEMU holds (QEMU's locks)
if command -v qemu-system-x86_64 >/dev/null; then
    qemu-system-x86_64 -nodefaults -display none -S -drive file=d.img,format=raw,if=virtio 2>"$T/qemu.err" &
    qpid=$!
    eq "QEMU holds d.img's lock" "$(qemu_locked d.img "$qpid" "$T/qemu.err")" yes
    refused "image in use by QEMU" 1 "d.img" d.img vmkit boot install-grub d.img
    has "... says it is in use" "$(vmkit boot install-grub d.img 2>&1)" "in use"
    kill "$qpid"; wait "$qpid" 2>/dev/null
else
    skip "image in use by QEMU" "qemu-system-x86_64 missing"
fi

# usage errors
fails "no DISK: usage" 2 vmkit boot install-grub
fails "--part x: usage" 2 vmkit boot install-grub --part x d.img
fails "--timeout -5: usage" 2 vmkit boot install-grub --timeout -5 d.img
fails "unknown verb" 2 vmkit boot nosuch
fails_with "missing image" 1 "nosuch.img" vmkit boot install-grub nosuch.img
ok "install-grub --help" vmkit boot install-grub --help
ok "bios_grub on MBR refused by part add" sh -c "! \"$VMKIT\" part add d.img --type bios_grub 2>&1 | grep -q x; \"$VMKIT\" part add d.img --type bios_grub 2>&1 | grep -q 'GPT tables only'"
finish
