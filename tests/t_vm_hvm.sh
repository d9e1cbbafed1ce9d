#!/bin/bash
# HVM machines as xl.cfg describes them: floppy drives (vmkit's fda/fdb
# keys and vdev=fda disk specs), empty CD drives that take a medium later
# (cd-insert / cd-eject), the BIOS booting a floppy, and screenshots.
#  - QEMU's command line for the HVM keys (create -n);
#  - a boot sector on a floppy prints its line when boot = "a" (the BIOS
#    really reads the floppy);
#  - a FAT floppy made by vmkit (checked by fsck.fat and mtools) is the
#    guest's /dev/fd0: Linux (Debian's generic kernel, mediaguest.sh)
#    mounts it and reads the file back; an ISO made by xorriso goes into the
#    guest's empty CD drive with cd-insert, Linux mounts /dev/sr0 and reads
#    it, and after cd-eject the drive has no medium;
#  - screenshot: a valid PNG (tests/pngstat.py: CRCs, IDAT, filters) of the
#    BIOS screen, not blank, different from the screen before the CPUs
#    ran; refused for a VM without a display and for one not running.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/vm_lib.sh"
FIX=$TOP/tests/fixtures

# 1. the command line QEMU gets
python3 "$FIX/bootsector.py" floppy bs.img
cp bs.img boot-fd.img && truncate -s 1440K boot-fd.img
cat >hvm.cfg <<EOF
name = "hvm1"
builder = "hvm"
memory = 32
acpi = 0
fda = "$T/boot-fd.img"
fdb = ""
disk = [ ',,hdc:cdrom,r' ]
usbdevice = "tablet"
vif = []
EOF
ok "create -n: an HVM config with floppies and an empty CD drive" vmkit create -n hvm.cfg
o=$(cat "$T/.out")
has "fda is a floppy drive with its image, raw" "$o" "-drive file=$T/boot-fd.img,if=floppy,index=0,format=raw"
has "fdb = \"\" is an empty floppy drive" "$o" "-drive if=floppy,index=1 "
has "',,hdc:cdrom,r' is an empty CD drive" "$o" "-drive if=ide,index=2,readonly=on,media=cdrom"
has "usbdevice = tablet: a USB tablet" "$o" "-device usb-tablet,bus=usb.0"
has "acpi = 0: ACPI off" "$o" "-machine pc,acpi=off"
has "HVM: a Cirrus card" "$o" "-device cirrus-vga"
has "HVM: VNC on loopback" "$o" "-vnc 127.0.0.1:0,to=99"
has "HVM: boot = cd by default" "$o" "-boot order=cd"
has "the config keeps the floppy as a disk spec" "$o" "vdev=fda,access=rw,target=$T/boot-fd.img"
# the printed config reads back to the same (xl.cfg round trip)
sed -n '/^# QEMU command line/q;p' "$T/.out" >rt.cfg
ok "the printed config is a valid config" vmkit create -n rt.cfg
has "read back: the floppy is still fda" "$(cat "$T/.out")" "if=floppy,index=0"
printf 'name = "f2"\ndisk = [ "%s/boot-fd.img,fda,w" ]\nfdb = "%s/boot-fd.img"\ndisk += [ "%s/x.img,xvda,w" ]\nvif = []\n' \
    "$T" "$T" "$T" >f2.cfg
: >x.img
ok "fdb survives a later disk += (not in the disk list)" vmkit create -n f2.cfg
o=$(cat "$T/.out")
has "vdev=fda disk spec" "$o" "if=floppy,index=0"
has "fdb key" "$o" "if=floppy,index=1"
printf 'name = "f3"\nfda = "%s/boot-fd.img"\ndisk = [ "%s/x.img,xvda,w" ]\nvif = []\n' "$T" "$T" >f3.cfg
ok "a later disk = keeps the fda key's drive" vmkit create -n f3.cfg
has "fda still there" "$(cat "$T/.out")" "if=floppy,index=0"
printf 'name = "b"\ndisk = [ "%s/boot-fd.img,fdc,w" ]\n' "$T" >b1.cfg
fails_with "fdc: a PC has two floppy drives" 1 "unknown vdev 'fdc'" vmkit create -n b1.cfg
printf 'name = "b"\ndisk = [ "%s/boot-fd.img,fda:cdrom,r" ]\n' "$T" >b2.cfg
fails_with "a floppy is not a cdrom" 1 "a floppy drive cannot be a cdrom" vmkit create -n b2.cfg
printf 'name = "b"\nfda = [ "a" ]\n' >b3.cfg
fails_with "fda takes one file" 1 "expected a single value" vmkit create -n b3.cfg
printf 'name = "b"\nfda = "%s/boot-fd.img"\ndisk = [ "%s/boot-fd.img,fda,w" ]\n' "$T" "$T" >b4.cfg
fails_with "fda twice" 1 "vdev 'fda' used twice" vmkit create -n b4.cfg
printf 'name = "b"\nfda = "/nonexistent/fd.img"\n' >b5.cfg
fails_with "a missing floppy image is named" 1 "/nonexistent/fd.img" vmkit create -n b5.cfg

# 2. the BIOS boots the floppy (boot = "a"); the screen is saved
cat >fdboot.cfg <<EOF
name = "fdboot"
type = "hvm"
memory = 32
boot = "a"
fda = "$T/boot-fd.img"
vif = []
on_poweroff = "destroy"
EOF
ok "create -p: an HVM VM booting from its floppy, CPUs stopped" vmkit create -p fdboot.cfg
ok "screenshot before the CPUs ran" vmkit screenshot fdboot "$T/before.png"
ok "unpause" vmkit unpause fdboot
ok "boot = a: the floppy's boot sector runs" wait_log fdboot "VMKIT-BIOS-BOOT-OK floppy" 1 60
ok "screenshot of the BIOS screen" vmkit screenshot fdboot "$T/bios.png"
b=$(python3 "$TOP/tests/pngstat.py" before.png) || b=bad
a=$(python3 "$TOP/tests/pngstat.py" bios.png) || a=bad
ok "file(1) says PNG" sh -c "file '$T/bios.png' | grep -q 'PNG image data'"
set -- $a
eq "screenshot: the VGA text screen's size" "$1x$2" "720x400"
[ "${3:-0}" -gt 1 ]; eq "screenshot: not blank ($3 colours)" "$?" 0
[ "$a" != "$b" ] && [ "$b" != bad ]; eq "screenshot: differs from the screen before the CPUs ran" "$?" 0
mode=$(stat -c %a bios.png)
eq "the PNG has the mode the umask gives" "$mode" "$(printf '%o' $(( 0666 & ~$(umask) )))"
fails_with "screenshot into a directory that does not exist" 1 "$T/nodir/x.png" \
    vmkit screenshot fdboot "$T/nodir/x.png"
ok "destroy" vmkit destroy fdboot
ls run/fdboot >/dev/null 2>&1; eq "its runtime dir (and the screendump) is gone" "$?" 2
fails_with "screenshot of a VM that does not run" 1 "fdboot: no such VM" \
    vmkit screenshot fdboot "$T/x.png"
guest_cfg nodisp >nodisp.cfg
ok "a PV guest without a display starts" vmkit create nodisp.cfg
fails_with "screenshot of a VM without a display is refused" 1 "has no display" \
    vmkit screenshot nodisp "$T/x.png"
[ ! -e x.png ]; eq "nothing written" "$?" 0
ok "destroy it" vmkit destroy nodisp
fails "screenshot: usage" 2 vmkit screenshot fdboot

# 3. a floppy vmkit made is the guest's /dev/fd0; a CD goes in and out
# in_guest NAME MARK CMDS: type CMDS into NAME's console and keep it open
# until MARK is in the console log (the guest is slow under TCG); the
# marks are computed ($((...))) so the echoed command line does not hold them
in_guest() {
    { printf '%s\n' "$3"; wait_log "$1" "$2" 1 60; } | vmkit console --timeout 70 "$1" 2>&1
}
M=$(sh "$FIX/mediaguest.sh") || { skip "media guest" "cannot build it (apt-get download failed?)"; vm_finish; exit; }
ok "img create 1440K" vmkit img create fd.img 1440K
ok "fs mkfs -t vfat" vmkit fs mkfs -t vfat fd.img
printf 'd-i debian-installer/locale string en_US\n' >aso_virt.cfg
ok "fs put aso_virt.cfg" vmkit fs put aso_virt.cfg fd.img:/aso_virt.cfg
ok "fsck.fat -n: the floppy is clean" fsck.fat -n fd.img
has "mdir lists the file" "$(mdir -i fd.img :: 2>&1)" "aso_virt cfg"
has "blkid: vfat" "$(blkid -p fd.img)" 'TYPE="vfat"'
mkdir -p cdtree && echo "VMKIT-CD-CONTENT $$" >cdtree/hello.txt
ok "xorriso makes a CD" xorriso -as mkisofs -quiet -R -J -o cd.iso cdtree
cat >media.cfg <<EOF
name = "media"
memory = 256
kernel = "$M/vmlinuz"
ramdisk = "$M/initrd.gz"
extra = "console=ttyS0 quiet"
vif = []
vnc = 0
fda = "$T/fd.img"
disk = [ ',,hdc:cdrom,r', '$T/x.img,xvda,w' ]
EOF
truncate -s 1M x.img
ok "create: the media guest with a floppy and an empty CD drive" vmkit create media.cfg
ok "it comes up (its drivers loaded)" wait_log media "VMKIT-MEDIA-READY" 1 180
o=$(in_guest media FD-READ-42 'mount -t vfat -o ro /dev/fd0 /fd && cat /fd/aso_virt.cfg; echo FD-READ-$((40+2))')
has "the guest mounts /dev/fd0 and reads the file" "$o" "d-i debian-installer/locale string en_US"
o=$(in_guest media EMPTY-42 'mount -t iso9660 /dev/sr0 /cd; echo EMPTY-$((40+2))')
has "the empty CD drive has no medium" "$o" "No medium found"
ok "cd-insert an ISO into the empty drive" vmkit cd-insert media hdc cd.iso
# the drive reports "not ready" once after a change, as real ones do
o=$(in_guest media CD-READ-42 'for i in 1 2 3 4 5 6 7 8; do mount -t iso9660 /dev/sr0 /cd 2>/dev/null && break; sleep 1; done; cat /cd/hello.txt; umount /cd; echo CD-READ-$((40+2))')
has "the guest mounts /dev/sr0 and reads the ISO's file" "$o" "VMKIT-CD-CONTENT $$"
ok "cd-eject" vmkit cd-eject media hdc
o=$(in_guest media EJECTED-42 'mount -t iso9660 /dev/sr0 /cd; echo EJECTED-$((40+2))')
has "after cd-eject the drive has no medium again" "$o" "No medium found"
fails_with "cd-insert into a disk is refused" 1 "not a cdrom or floppy drive" \
    vmkit cd-insert media xvda cd.iso
fails_with "cd-insert into a drive the VM does not have" 1 "no drive hdd" \
    vmkit cd-insert media hdd cd.iso
fails_with "cd-insert of a file that does not exist" 1 "$T/nope.iso: No such file" \
    vmkit cd-insert media hdc "$T/nope.iso"
fails "cd-insert: usage" 2 vmkit cd-insert media hdc
ok "destroy" vmkit destroy media
fails_with "cd-eject of a VM that does not run" 1 "media: no such VM" vmkit cd-eject media hdc
no_qemu_left "no QEMU of this test is left"
vm_finish
