#!/bin/bash
# ISOs vmkit writes, used by real firmware and a real kernel: QEMU's BIOS
# boots an El Torito record made with Debian's isolinux (boot info table
# checked, isolinux reads its config from the ISO), and a Linux guest
# mounts an ISO as a CD (IDE, sr_mod, isofs) and reads files from it.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
for t in xorriso qemu-system-x86_64; do
    command -v $t >/dev/null || { skip "ISO boot tests" "$t missing (scripts/deps.sh)"; finish; exit; }
done
# Every QEMU started here runs under timeout and is waited for; on an early
# exit nothing of ours is left running.
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT

mkdir -p src/d
long=$(printf 'long-name-%.0s' $(seq 1 20))
echo "a long name" >"src/$long.txt"
head -c 5000000 /dev/urandom >src/five.bin
ln -s /d src/abs_link
ok "mkfs -t iso9660 --from DIR" vmkit fs mkfs -t iso9660 -L CdTest --from src vk.iso

# 1. El Torito with Debian's isolinux; QEMU's BIOS boots it to the prompt
ISOLINUX=/usr/lib/ISOLINUX/isolinux.bin LDLINUX=/usr/lib/syslinux/modules/bios/ldlinux.c32
if [ -f $ISOLINUX ] && [ -f $LDLINUX ]; then
    mkdir -p boot/isolinux && cp $ISOLINUX $LDLINUX boot/isolinux/
    printf 'SERIAL 0 115200\nPROMPT 1\nTIMEOUT 1\nDEFAULT marker\nLABEL marker\n  KERNEL vmkit-iso-marker\n' \
        >boot/isolinux/isolinux.cfg
    ok "mkfs --boot isolinux/isolinux.bin" vmkit fs mkfs -t iso9660 -L BootCd --from boot --boot isolinux/isolinux.bin boot.iso
    eq "label past the boot record = blkid's" "$(vmkit fs probe boot.iso | grep '^LABEL=')" \
       "$(blkid -p -o export boot.iso | sed -n 's/^LABEL=\(.*\)/LABEL="\1"/p')"
    r=$(xorriso -indev boot.iso -report_el_torito plain 2>&1)
    has "xorriso: catalog path" "$r" "El Torito cat path : /isolinux/boot.cat"
    has "xorriso: no emulation, load size 4" "$r" "El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4"
    has "xorriso: boot info table" "$r" "boot-info-table"
    j=$(vmkit fs probe --json boot.iso)
    lba=$(echo "$j" | python3 -c 'import json,sys; print(json.load(sys.stdin)["boot"]["images"][0]["lba"])')
    has "probe --json: boot image" "$j" '"path": "/[BOOT]/1-bios-none.img"'
    eq "boot info table: PVD at 16, the file at its LBA" \
       "$(vmkit fs cat boot.iso:/isolinux/isolinux.bin | od -An -tu4 -j8 -N8 | tr -s ' ')" " 16 $lba"
    ok "/[BOOT] image = the first 2048 bytes of isolinux.bin (patched)" \
       cmp <(vmkit fs cat "boot.iso:/[BOOT]/1-bios-none.img") <(vmkit fs cat boot.iso:/isolinux/isolinux.bin | head -c 2048)
    has "fs stat of the catalog" "$(vmkit fs stat 'boot.iso:/[BOOT]/catalog')" "Size: 2048"
    eq "/[BOOT] not in the root listing" "$(vmkit fs ls boot.iso:/)" isolinux
    timeout 120 qemu-system-x86_64 -machine accel=tcg -m 64 -display none -monitor none -no-reboot \
        -cdrom boot.iso -boot d -serial file:"$T/boot.log" >/dev/null 2>&1 &
    qp=$!
    for _ in $(seq 1 1100); do grep -q "Loading vmkit-iso-marker" boot.log 2>/dev/null && break; sleep 0.1; done
    kill $qp 2>/dev/null; wait $qp 2>/dev/null
    has "BIOS boots the ISO: isolinux runs" "$(cat boot.log)" "ISOLINUX"
    has "... and reads isolinux.cfg from the ISO" "$(cat boot.log)" "Loading vmkit-iso-marker"
else
    skip "El Torito boot" "isolinux package missing (scripts/deps.sh)"
fi

# 2. Linux mounts vmkit's ISO as a CD (IDE, sr_mod, isofs)
if G=$(sh "$TOP/tests/fixtures/isoguest.sh" 2>/dev/null); then
    timeout 300 qemu-system-x86_64 -machine accel=tcg -m 256 -display none -monitor none -no-reboot \
        -kernel "$G/vmlinuz" -initrd "$G/initrd.gz" -cdrom vk.iso -serial file:"$T/cd.log" \
        -append "console=ttyS0 panic=-1 quiet vmkit.md5=/five.bin vmkit.ls=/$long.txt vmkit.ls=/abs_link" \
        >/dev/null 2>&1
    l=$(cat cd.log)
    has "Linux mounts the ISO" "$l" "VMKIT-CD-MOUNTED"
    has "Linux reads the 5 MB file" "$l" "MD5 $(md5sum <src/five.bin | cut -d' ' -f1) /five.bin"
    has "Linux sees the long Rock Ridge name" "$l" "/mnt/$long.txt"
    has "Linux sees the symlink" "$l" "/mnt/abs_link -> /d"
else
    skip "Linux mounts the ISO" "cannot build the test guest"
fi

finish
