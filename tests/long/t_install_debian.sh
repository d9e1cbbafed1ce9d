#!/bin/bash
# vmkit install with Debian's real installer (make check-long only: each
# run boots the 40 MB installer initrd under TCG, minutes each).
# The installer is the package debian-installer-12-netboot-amd64
# (tests/fixtures/installer.sh, cached).  Its netboot tree is made into an
# installer ISO by vmkit itself (fs mkfs -t iso9660 --boot, El Torito with
# isolinux.bin from Debian's isolinux package).  Each --location run uses
# a preseed whose preseed/early_command prints a marker on the serial
# console and powers the machine off: the run passes only when the real
# installer printed it, which proves that the kernel and initrd were found
# in the medium, the preseed was injected into the initrd and the command
# line reached the installer.
#  - --location ISO, --location DIR (the tree), each with --preseed;
#  - the lab's flow: a FAT floppy made by vmkit carrying aso_virt.cfg and
#    preseed/file=/floppy/aso_virt.cfg: the installer has no floppy driver
#    (no /dev/fd0, no floppy module: shown from inside it), so --floppy
#    carries the file into the initrd and the installer runs it;
#  - --cdrom ISO: the BIOS boots isolinux to the installer's boot menu
#    (its title on the serial line), a screenshot of it is not blank and
#    differs from the screen at the start.
# A complete install needs a package mirror the guest cannot reach here.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/vm_lib.sh"
FIX=$TOP/tests/fixtures
running() { vmkit list >"$T/list.out" || return 1; tail -n +2 "$T/list.out"; }
N=$(pick 0 0 1)   # one pass of everything: this file runs in make check-long only
need xorriso
need fsck.fat
ok "isolinux.bin (Debian's isolinux, scripts/deps.sh) is there" test -r /usr/lib/ISOLINUX/isolinux.bin

C=$(sh "$FIX/installer.sh") || { echo "Bail out! installer.sh failed"; exit 1; }
TREE=$C/tree
ok "the installer's kernel is there" test -s "$TREE/debian-installer/amd64/linux"

# the installer ISO: the netboot tree (symlinks followed, as on Debian's
# CDs) with isolinux at its root reading the tree's own syslinux menu;
# `serial 0` mirrors the menu on COM1, so the test sees it
mkdir cd
cp -rL "$TREE/." cd/
cp /usr/lib/ISOLINUX/isolinux.bin cd/
{ echo "serial 0 115200"; cat "$TREE/debian-installer/amd64/boot-screens/syslinux.cfg"; } >cd/isolinux.cfg
ok "fs mkfs -t iso9660 --boot isolinux.bin: the installer ISO" \
    vmkit fs mkfs -t iso9660 -L DEBIAN_INSTALL --from cd --boot isolinux.bin di.iso
ok "xorriso reads it and finds the El Torito boot image" \
    sh -c "xorriso -indev '$T/di.iso' -report_el_torito plain 2>&1 | grep -q 'El Torito boot img'"
o=$(xorriso -indev di.iso -find /debian-installer/amd64/linux 2>/dev/null)
has "xorriso: the installer kernel is in it" "$o" "/debian-installer/amd64/linux"

cat >di.cfg <<EOF
name = "di"
memory = 768
vif = []
vnc = 0
EOF
preseed() {  # MARKER [EXTRA COMMANDS]: a preseed that prints MARKER and powers off
    printf 'd-i debian-installer/locale string en_US\n'
    printf 'd-i keyboard-configuration/xkb-keymap select us\n'
    printf 'd-i preseed/early_command string %s echo %s-$((6 * 7)) >/dev/ttyS0; sync; poweroff -f\n' "${2:-}" "$1"
}

# 1. --location ISO and --location DIR with --preseed
for loc in iso dir; do
    case $loc in iso) L=$T/di.iso ;; dir) L=$TREE ;; esac
    preseed "VMKIT-PRESEED-${loc^^}" >ps-$loc.cfg
    o=$(vmkit install -n di.cfg --location "$L" 2>&1)
    has "--location $loc: the syslinux menu's Install entry" "$o" \
        'kernel /debian-installer/amd64/linux, initrd /debian-installer/amd64/initrd.gz'
    ok "--location $loc --preseed: the installer runs and powers off" \
        vmkit install di.cfg --location "$L" --preseed ps-$loc.cfg --timeout 1200 --log "$T/$loc.log"
    has "--location $loc: the real installer ran the preseed's early_command" \
        "$(cat $loc.log)" "VMKIT-PRESEED-${loc^^}-42"
    has "--location $loc: the installer kernel's command line starts with console=ttyS0" "$(cat $loc.log)" "Command line: console=ttyS0"
    none "--location $loc: nothing left running" running
done

# 2. the lab's flow: a FAT floppy with aso_virt.cfg, preseed/file=/floppy/...
ok "img create floppy.img 1440K" vmkit img create floppy.img 1440K
ok "fs mkfs -t vfat" vmkit fs mkfs -t vfat floppy.img
preseed VMKIT-FLOPPY-PRESEED \
    '{ ls /dev/fd0; modprobe floppy; find /lib/modules -name "floppy*"; echo floppy-probe-done; } >/dev/ttyS0 2>&1;' \
    >aso_virt.cfg
ok "fs put aso_virt.cfg" vmkit fs put aso_virt.cfg floppy.img:/aso_virt.cfg
ok "fsck.fat -n: the floppy is clean" fsck.fat -n floppy.img
ok "mtools reads the file back" sh -c "mtype -i '$T/floppy.img' ::aso_virt.cfg | cmp - '$T/aso_virt.cfg'"
ok "install --floppy with preseed/file=/floppy/aso_virt.cfg" \
    vmkit install di.cfg --location "$TREE" --floppy floppy.img \
    --extra-args "auto=true priority=critical preseed/file=/floppy/aso_virt.cfg" \
    --timeout 1200 --log "$T/fd.log"
has "it says the floppy's file goes into the initrd" "$(cat "$T/.out")" \
    "floppy.img:/aso_virt.cfg goes into the initrd as /preseed.cfg"
o=$(cat fd.log)
has "the installer has no /dev/fd0" "$o" "/dev/fd0: No such file or directory"
has "and no floppy module to load" "$o" "Module floppy not found"
has "the floppy's preseed ran in the real installer" "$o" "VMKIT-FLOPPY-PRESEED-42"
none "nothing left running" running

# 3. --cdrom: the BIOS boots the ISO to the installer's menu
cat >dicd.cfg <<EOF
name = "di"
type = "hvm"
memory = 768
vif = []
EOF
vmkit install dicd.cfg --cdrom di.iso --log "$T/cd.log" >cd.out 2>&1 &
ipid=$!
i=0; until vmkit screenshot di "$T/start.png" 2>/dev/null || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
ok "screenshot at the start" test -s start.png
a=$(python3 "$TOP/tests/pngstat.py" start.png) || a=bad
ok "--cdrom: isolinux shows the installer's boot menu" wait_log di "Debian GNU/Linux installer menu" 1 300
# vesamenu draws its splash after the serial text: poll for a screen that
# is not blank and not the first one
i=0; b=bad
while [ $i -lt 120 ]; do
    vmkit screenshot di "$T/menu.png" && b=$(python3 "$TOP/tests/pngstat.py" menu.png) || b=bad
    set -- $b
    [ "${3:-0}" -gt 1 ] && [ "$b" != "$a" ] && break
    sleep 0.5; i=$((i + 1))
done
set -- $b
[ "${3:-0}" -gt 1 ]; eq "the menu's screenshot is not blank (${3:-0} colours)" "$?" 0
[ "$a" != "$b" ] && [ "$a" != bad ]; eq "and differs from the screen at the start" "$?" 0
ok "destroy it" vmkit destroy di
wait $ipid
eq "install --cdrom exits 1 when its VM is destroyed" "$?" 1
[ "$N" -ge 1 ]; eq "pick: one pass" "$?" 0
no_qemu_left "no QEMU of this test is left"
vm_finish
