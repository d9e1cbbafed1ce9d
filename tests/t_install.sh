#!/bin/bash
# vmkit install, quickly: installer trees laid out as Debian, Ubuntu,
# Fedora and Debian's netboot lay theirs out, with their boot menus, and a
# stand-in installer (the test guest's kernel; an init that prints its
# kernel command line and the files injected into its initrd, then powers
# off, or panics when its command line says).  The real Debian
# installer runs in tests/long/t_install_debian.sh.
#  - the kernel and initrd are found through the menus (the text installer,
#    not the graphical, expert or media-check entries), else the layouts;
#  - --preseed / --initrd-inject reach the installer's initrd root (md5
#    seen by the guest), --extra-args its command line after console=ttyS0;
#  - --floppy: the lab's preseed/file=/floppy/F is carried in the initrd;
#  - a power-off ends the install with 0, the domain's config is unchanged
#    and its next start boots its own disk; a panic and a hang past
#    --timeout end it with 1 and the console's last lines; --cdrom boots
#    an ISO through the BIOS (screenshot while it runs);
#  - bad input: clear errors, nothing left running.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/vm_lib.sh"
FIX=$TOP/tests/fixtures
export TMPDIR=$T/tmp; mkdir -p "$TMPDIR"   # where install keeps its work directory
running() { vmkit list >"$T/list.out" || return 1; tail -n +2 "$T/list.out"; }

# The stand-in installer's initrd: the test guest's, and an /init of ours.
mkinitrd() {  # OUT TAG
    rm -rf "$T/sr" && mkdir -p "$T/sr"
    cat >"$T/sr/init" <<EOF
#!/bin/sh
mount -t proc proc /proc
mount -t devtmpfs dev /dev
{
echo "STANDIN-$2"
echo "CMDLINE[\$(cat /proc/cmdline)]"
for f in /preseed.cfg /note.txt; do
    [ -f \$f ] && echo "FILE \$f \$(busybox md5sum <\$f | busybox cut -d' ' -f1)"
done
echo STANDIN-END
} >/dev/ttyS0
case " \$(cat /proc/cmdline) " in
*" vmkit.panic "*) insmod /lib/pvpanic.ko; insmod /lib/pvpanic-mmio.ko; echo c >/proc/sysrq-trigger ;;
esac
sync
poweroff -f
EOF
    chmod 755 "$T/sr/init"
    (cd "$T/sr" && echo init | cpio -o -H newc --quiet | gzip) >"$T/sr.gz"
    cat "$G/initrd.gz" "$T/sr.gz" >"$1"
}

# Debian's CD layout, isolinux menus as Debian writes them (includes, a
# graphical entry that is the menu default, a submenu)
mkdir -p deb/install.amd/gtk deb/isolinux
cp "$G/vmlinuz" deb/install.amd/vmlinuz
mkinitrd deb/install.amd/initrd.gz TEXT
mkinitrd deb/install.amd/gtk/initrd.gz GTK
printf 'path \ninclude menu.cfg\ndefault vesamenu.c32\nprompt 0\ntimeout 0\n' >deb/isolinux/isolinux.cfg
printf 'menu title Debian installer menu\ninclude stdmenu.cfg\ninclude gtk.cfg\nmenu begin advanced\n    menu label ^Advanced options\n    include adtxt.cfg\nmenu end\ninclude txt.cfg\n' >deb/isolinux/menu.cfg
printf 'label installgui\n\tmenu label ^Graphical install\n\tmenu default\n\tkernel /install.amd/vmlinuz\n\tappend vga=788 initrd=/install.amd/gtk/initrd.gz --- quiet\n' >deb/isolinux/gtk.cfg
printf 'label expert\n\tmenu label E^xpert install\n\tkernel /install.amd/vmlinuz\n\tappend priority=low vga=788 initrd=/install.amd/initrd.gz ---\n' >deb/isolinux/adtxt.cfg
printf 'label install\n\tmenu label ^Install\n\tkernel /install.amd/vmlinuz\n\tappend vga=788 initrd=/install.amd/initrd.gz --- quiet\n' >deb/isolinux/txt.cfg

# 1. what is found where (dry runs)
cat >inst.cfg <<EOF
name = "inst"
memory = 128
vif = []
vnc = 0
EOF
found() {  # LOCATION: the "installer ..." line of a dry run
    vmkit install -n inst.cfg --location "$1" 2>&1 | sed -n 's/^vmkit: inst: installer //p'
}
eq "Debian tree: isolinux's Install entry, not the graphical default" "$(found deb)" \
    'kernel /install.amd/vmlinuz, initrd /install.amd/initrd.gz (/isolinux/isolinux.cfg: entry "Install")'
mkdir -p ubu/casper ubu/boot/grub
cp "$G/vmlinuz" ubu/casper/vmlinuz && cp deb/install.amd/initrd.gz ubu/casper/initrd
printf 'set timeout=30\nmenuentry "Ubuntu Server with the HWE kernel" {\n\tlinux /casper/hwe-vmlinuz ---\n\tinitrd /casper/hwe-initrd\n}\nmenuentry "Try or Install Ubuntu Server" {\n\tset gfxpayload=keep\n\tlinux\t/casper/vmlinuz  ---\n\tinitrd\t/casper/initrd\n}\n' >ubu/boot/grub/grub.cfg
eq "Ubuntu tree: grub.cfg's entry whose files are there" "$(found ubu)" \
    'kernel /casper/vmlinuz, initrd /casper/initrd (/boot/grub/grub.cfg: entry "Try or Install Ubuntu Server")'
mkdir -p fed/isolinux fed/images/pxeboot
cp "$G/vmlinuz" fed/isolinux/vmlinuz && cp deb/install.amd/initrd.gz fed/isolinux/initrd.img
printf 'default vesamenu.c32\nlabel linux\n  menu label ^Install Fedora 39\n  kernel vmlinuz\n  append initrd=initrd.img inst.stage2=hd:LABEL=Fedora quiet\nlabel check\n  menu label Test this ^media & install Fedora 39\n  menu default\n  kernel vmlinuz\n  append initrd=initrd.img rd.live.check quiet\n' >fed/isolinux/isolinux.cfg
eq "Fedora tree: isolinux's relative paths, not the media check default" "$(found fed)" \
    'kernel /isolinux/vmlinuz, initrd /isolinux/initrd.img (/isolinux/isolinux.cfg: entry "Install Fedora 39")'
rm -r fed/isolinux
cp "$G/vmlinuz" fed/images/pxeboot/vmlinuz && cp deb/install.amd/initrd.gz fed/images/pxeboot/initrd.img
eq "Fedora tree without menus: the images/pxeboot layout" "$(found fed)" \
    'kernel /images/pxeboot/vmlinuz, initrd /images/pxeboot/initrd.img (the Fedora layout (images/pxeboot))'
mkdir -p nb/debian-installer/amd64/boot-screens nb/debian-installer/amd64/pxelinux.cfg
cp "$G/vmlinuz" nb/debian-installer/amd64/linux && cp deb/install.amd/initrd.gz nb/debian-installer/amd64/initrd.gz
ln -s debian-installer/amd64/pxelinux.cfg nb/pxelinux.cfg
ln -s ../boot-screens/syslinux.cfg nb/debian-installer/amd64/pxelinux.cfg/default
printf 'path debian-installer/amd64/boot-screens/\ninclude debian-installer/amd64/boot-screens/menu.cfg\ndefault debian-installer/amd64/boot-screens/vesamenu.c32\n' >nb/debian-installer/amd64/boot-screens/syslinux.cfg
printf 'include debian-installer/amd64/boot-screens/gtk.cfg\ninclude debian-installer/amd64/boot-screens/txt.cfg\n' >nb/debian-installer/amd64/boot-screens/menu.cfg
printf 'default install\nlabel install\n\tmenu label ^Install\n\tkernel debian-installer/amd64/linux\n\tappend vga=788 initrd=debian-installer/amd64/initrd.gz --- quiet\n' >nb/debian-installer/amd64/boot-screens/txt.cfg
eq "netboot tree: pxelinux.cfg/default, paths from the TFTP root" "$(found nb)" \
    'kernel /debian-installer/amd64/linux, initrd /debian-installer/amd64/initrd.gz (/pxelinux.cfg/default: entry "Install")'
# the same trees as ISOs, made by vmkit and by xorriso: read through the fs layer
ok "fs mkfs -t iso9660 of the Debian tree" vmkit fs mkfs -t iso9660 -L DEB --from deb deb.iso
ok "xorriso -as mkisofs -R -J of the Ubuntu tree" xorriso -as mkisofs -quiet -R -J -o ubu.iso ubu
eq "Debian ISO (vmkit's): isolinux's Install entry" "$(found deb.iso)" \
    'kernel /install.amd/vmlinuz, initrd /install.amd/initrd.gz (/isolinux/isolinux.cfg: entry "Install")'
eq "Ubuntu ISO (xorriso's): grub.cfg's entry" "$(found ubu.iso)" \
    'kernel /casper/vmlinuz, initrd /casper/initrd (/boot/grub/grub.cfg: entry "Try or Install Ubuntu Server")'

# 2. a real run: the injected files and the command line reach the installer
echo "d-i preseed/early_command string true # $$" >preseed.cfg
echo "note $$" >note.txt
python3 "$FIX/bootsector.py" disk bs.img && truncate -s 1M disk.img && dd if=bs.img of=disk.img conv=notrunc status=none
cat >web.cfg <<EOF
name = "web"
type = "hvm"
memory = 128
vif = []
vnc = 0
serial = "pty"
boot = "c"
disk = [ '$T/disk.img,hda,w' ]
EOF
ok "define the VM to install into (an HVM machine booting its disk)" vmkit define web.cfg
ok "install web --location ISO --preseed --initrd-inject --extra-args" \
    vmkit install web --location deb.iso --preseed preseed.cfg --initrd-inject note.txt \
    --extra-args "foo=bar vmkit.x" --timeout 300 --log "$T/web.log"
o=$(cat web.log)
has "the text installer ran" "$o" "STANDIN-TEXT"
has "its command line: console=ttyS0 and --extra-args, nothing else" "$o" "CMDLINE[console=ttyS0 foo=bar vmkit.x]"
has "/preseed.cfg in its initrd is --preseed's file" "$o" "FILE /preseed.cfg $(md5sum <preseed.cfg | cut -d' ' -f1)"
has "/note.txt is --initrd-inject's file" "$o" "FILE /note.txt $(md5sum <note.txt | cut -d' ' -f1)"
none "nothing of the install run is left" running
o=$(vmkit config web)
case $o in *install.amd*|*kernel*|*preserve*) r=1 ;; *) r=0 ;; esac
eq "the stored config has no installer kernel and its own actions" "$r" 0
ok "start web: it boots its disk through the BIOS" vmkit start web
ok "its disk's boot sector runs" wait_log web "VMKIT-BIOS-BOOT-OK disk" 1 60
ok "destroy web" vmkit destroy web

# 3. the lab's floppy flow: preseed/file=/floppy/F is carried in the initrd
ok "img create 1440K" vmkit img create fd.img 1440K
ok "fs mkfs -t vfat" vmkit fs mkfs -t vfat fd.img
printf 'd-i preseed/early_command string echo floppy %s\n' "$$" >aso_virt.cfg
ok "fs put" vmkit fs put aso_virt.cfg fd.img:/aso_virt.cfg
ok "fsck.fat -n" fsck.fat -n fd.img
ok "install --floppy with preseed/file=/floppy/aso_virt.cfg" \
    vmkit install inst.cfg --location deb --floppy fd.img \
    --extra-args "auto=true preseed/file=/floppy/aso_virt.cfg priority=critical" \
    --timeout 300 --log "$T/fd.log"
has "it says what it did with the floppy's file" "$(cat "$T/.out")" \
    "fd.img:/aso_virt.cfg goes into the initrd as /preseed.cfg"
o=$(cat fd.log)
has "/preseed.cfg is the floppy's aso_virt.cfg" "$o" "FILE /preseed.cfg $(md5sum <aso_virt.cfg | cut -d' ' -f1)"
has "preseed/file= is left off the command line" "$o" "CMDLINE[console=ttyS0 auto=true priority=critical]"
o=$(vmkit install -n inst.cfg --location deb --floppy fd.img 2>&1)
has "the floppy is drive fda of the install run" "$o" "vdev=fda,access=rw,target=$T/fd.img"

# 4. a panic: exit 1, the last lines, nothing left
fails_with "an installer that panics" 1 "the installer crashed" \
    vmkit install inst.cfg --location deb --extra-args vmkit.panic --timeout 300 --log "$T/panic.log"
has "the console's last line is shown" "$(cat "$T/.out")" "$(grep -v '^[[:space:]]*$' panic.log | tail -1 | tr -d '\r')"
has "the panic is in the log" "$(cat panic.log)" "Kernel panic"
none "nothing left running after the crash" running

# 5. --cdrom: the BIOS boots the ISO (a boot sector here); a screenshot
ok "a boot sector for the CD" eval 'mkdir -p cd && python3 "$FIX/bootsector.py" cdrom cd/boot.img 2048'
ok "xorriso: an El Torito ISO" xorriso -as mkisofs -o boot.iso -b boot.img -no-emul-boot -boot-load-size 4 cd
cat >hvm.cfg <<EOF
name = "hvm"
type = "hvm"
memory = 32
vif = []
disk = [ '$T/disk.img,hda,w' ]
EOF
vmkit install hvm.cfg --cdrom boot.iso --log "$T/cd.log" >cd.out 2>&1 &
ipid=$!
ok "--cdrom: the BIOS boots the ISO (boot = dc)" wait_log hvm "VMKIT-BIOS-BOOT-OK cdrom" 1 60
ok "screenshot of the install run" vmkit screenshot hvm "$T/cd.png"
s=$(python3 "$TOP/tests/pngstat.py" cd.png) || s="bad"
set -- $s
[ "${3:-0}" -gt 1 ]; eq "the screen is not blank" "$?" 0
ok "destroy it" vmkit destroy hvm
wait $ipid; rc=$?
eq "install exits 1 when its VM is destroyed" "$rc" 1
has "and says so" "$(cat cd.out)" "the VM was destroyed before the installer finished"
fails_with "an installer still running at --timeout" 1 "still running at the timeout" \
    vmkit install hvm.cfg --cdrom boot.iso --timeout 15 --log "$T/hang.log"
has "the console's last lines are shown" "$(cat "$T/.out")" "VMKIT-BIOS-BOOT-OK cdrom"
has "and kept in the log" "$(cat hang.log)" "VMKIT-BIOS-BOOT-OK cdrom"
none "nothing left running after the timeout" running

# 6. bad input
mkdir -p empty/isolinux && printf 'label x\n kernel /nope\n append initrd=/nope.gz\n' >empty/isolinux/isolinux.cfg
fails_with "a tree without an installer kernel" 1 "empty: no installer kernel found" \
    vmkit install inst.cfg --location empty
head -c 100000 /dev/urandom >junk.iso
fails_with "a file that is no ISO" 1 "junk.iso: not an installer ISO" \
    vmkit install inst.cfg --location junk.iso
fails_with "a --location that does not exist" 1 "nowhere: No such file" \
    vmkit install inst.cfg --location nowhere
fails_with "a --preseed that does not exist" 1 "--preseed $T/nope.cfg: No such file or directory" \
    vmkit install inst.cfg --location deb --preseed "$T/nope.cfg"
fails_with "two injected files of one name" 1 "two files would be /preseed.cfg" \
    vmkit install inst.cfg --location deb --preseed preseed.cfg --initrd-inject preseed.cfg
fails_with "the floppy lacks the file the command line names" 1 "/missing.cfg" \
    vmkit install inst.cfg --location deb --floppy fd.img --extra-args "preseed/file=/floppy/missing.cfg"
fails_with "--cdrom with --preseed" 1 "need --location" \
    vmkit install inst.cfg --cdrom boot.iso --preseed preseed.cfg
fails "both --location and --cdrom: usage" 2 vmkit install inst.cfg --location deb --cdrom boot.iso
fails "neither: usage" 2 vmkit install inst.cfg
fails "a bad --timeout: usage" 2 vmkit install inst.cfg --location deb --timeout 0
fails_with "a config that does not exist" 1 "nocfg.cfg" vmkit install nocfg.cfg --location deb
fails_with "a VM that is not defined" 1 "nosuchvm" vmkit install nosuchvm --location deb
none "nothing is left running" running
none "no install work directory is left" find "$TMPDIR" -name 'vmkit-install.*'
no_qemu_left "no QEMU of this test is left"
vm_finish
