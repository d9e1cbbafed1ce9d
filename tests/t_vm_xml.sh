#!/bin/bash
# libvirt domain XML: `vmkit dumpxml` of a range of configs (disks, cdrom,
# floppy, SCSI, NICs, VNC, SPICE, direct kernel boot, boot order, serial
# ports, UEFI ...) passes libvirt's own virt-xml-validate, is defined by
# libvirt's domain parser (virsh's test driver), and `define --xml` of it
# gives back the same config; libvirt's re-written XML (its defaults and
# <address>es filled in) reads back the same too; the libvirt lab's
# clone-by-hand (dumpxml, edit name/uuid/mac/disk, define --xml); and bad
# input is refused naming the element, with nothing stored.  No VM boots.
. "$(dirname "$0")/lib.sh"
need virt-xml-validate virsh xmllint qemu-img || { finish; exit; }
cd "$T" || exit 1
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
ok "qemu-img create root.qcow2" qemu-img create -q -f qcow2 root.qcow2 64M
ok "qemu-img create data.img" qemu-img create -q -f raw data.img 16M
ok "qemu-img create fd.img" qemu-img create -q -f raw fd.img 1440K
: >vmlinuz; : >initrd.img

# xmllint --xpath VALUE of file
xp() { xmllint --xpath "$1" "$2" 2>&1; }
# libvirt's domain parser: the test driver (no daemon) defines it; prints
# libvirt's own dumpxml of the result
lv_define() { virsh -q -c test:///default "define $1; dumpxml $2"; }

cat >full.cfg <<EOF
name = "full"
type = "hvm"
memory = 256
maxmem = 512
vcpus = 2
maxvcpus = 4
disk = [ 'format=qcow2,vdev=xvda,access=rw,target=$T/root.qcow2', ',hdc:cdrom,r',
         'format=raw,vdev=sdb,access=ro,target=$T/data.img' ]
vif = [ 'mac=00:16:3e:11:22:33,model=e1000,hostfwd=tcp:127.0.0.1:2222-:22',
        'type=bridge,bridge=br0,mac=00:16:3e:11:22:34' ]
boot = "dc"
vnc = 1
vncdisplay = 3
on_crash = "preserve"
localtime = 1
hpet = 0
soundhw = "hda"
usbdevice = [ "tablet" ]
on_watchdog = "restart"
EOF
cat >kern.cfg <<EOF
name = "kern"
type = "pv"
accel = "tcg"
memory = 128
kernel = "$T/vmlinuz"
ramdisk = "$T/initrd.img"
cmdline = "console=ttyS0 root=/dev/vda ro quiet"
disk = [ 'vdev=vda,access=rw,target=$T/data.img' ]
vif = [ 'mac=00:16:3e:00:00:01' ]
serial = [ "pty", "file:$T/ttyS1.log" ]
on_reboot = "destroy"
p9 = [ 'tag=share,path=$T,security_model=none', 'tag=data,path=/srv,security_model=mapped-xattr' ]
channel = [ 'name=org.qemu.guest_agent.0,connection=socket,path=$T/qga.sock', 'name=org.vmkit.log,connection=pty' ]
EOF
cat >spice.cfg <<EOF
name = "spice"
type = "hvm"
accel = "kvm"
memory = 512
disk = [ 'format=qcow2,vdev=hda,access=rw,target=$T/root.qcow2' ]
vif = [ 'type=bridge,bridge=virbr0,mac=00:16:3e:00:00:02,model=rtl8139' ]
vnc = 0
spice = 1
spiceport = 5930
spicehost = "127.0.0.1"
spicepasswd = "s3cret"
spicevdagent = 1
spice_clipboard_sharing = 1
vga = "qxl"
videoram = 128
EOF
cat >efi.cfg <<EOF
name = "efi"
type = "hvm"
memory = 192
firmware = "uefi"
disk = [ 'format=raw,vdev=fda,access=rw,target=$T/fd.img', 'format=raw,vdev=sda,access=rw,target=$T/data.img' ]
vif = []
usb = 1
usbversion = 3
rtc_timeoffset = "-3600"
on_poweroff = "preserve"
vnclisten = "127.0.0.2"
vncdisplay = 7
vncpasswd = "pw"
keymap = "de"
boot = "ca"
acpi = 0
EOF
printf 'name = "tiny"\n' >tiny.cfg

for v in full kern spice efi tiny; do
    ok "define $v.cfg" vmkit define $v.cfg || continue
    run_ok cfg vmkit config $v
    printf '%s\n' "$cfg" >$v.before
    run_ok x vmkit dumpxml $v
    printf '%s\n' "$x" >$v.xml
    ok "$v: virt-xml-validate accepts the dumpxml" virt-xml-validate $v.xml domain
    eq "$v: the domain's name" "$(xp 'string(/domain/name)' $v.xml)" "$v"
    # libvirt 9.0's parser does not know <backend type='passt'/> yet (its
    # schema does): the NIC with a port forward is checked by the schema only
    if [ $v = full ]; then
        sed '/<backend type="passt"/d; /<portForward/,/<\/portForward>/d' $v.xml >$v.lv.xml
    else cp $v.xml $v.lv.xml; fi
    run_ok lx lv_define $v.lv.xml $v
    has "$v: libvirt's parser defines it" "$lx" "<name>$v</name>"
    ok "undefine $v" vmkit undefine $v
    ok "$v: define --xml of the dumpxml" vmkit define --xml $v.xml
    run_ok cfg vmkit config $v
    eq "$v: define --xml gives back the same config" "$cfg" "$(cat $v.before)"
done

# what the XML says, read with xmllint
eq "full: type qemu on a host without KVM, or kvm" "$(xp 'string(/domain/@type)' full.xml)" \
   "$( [ -w /dev/kvm ] && [ -e /sys/module/kvm_intel -o -e /sys/module/kvm_amd ] && echo kvm || echo qemu)"
eq "kern: accel tcg is type qemu" "$(xp 'string(/domain/@type)' kern.xml)" "qemu"
eq "spice: accel kvm is type kvm" "$(xp 'string(/domain/@type)' spice.xml)" "kvm"
eq "full: memory 256 MiB, max 512" "$(xp 'concat(/domain/memory, " ", /domain/maxMemory, " ", /domain/vcpu/@current, "/", /domain/vcpu)' full.xml)" "256 512 2/4"
eq "full: three disks" "$(xp 'count(/domain/devices/disk)' full.xml)" "3"
eq "full: disk 1 qcow2 on virtio" "$(xp 'concat(/domain/devices/disk[1]/driver/@type, " ", /domain/devices/disk[1]/source/@file, " ", /domain/devices/disk[1]/target/@bus)' full.xml)" "qcow2 $T/root.qcow2 virtio"
eq "full: an empty IDE cdrom, read-only" "$(xp 'concat(/domain/devices/disk[2]/@device, " ", count(/domain/devices/disk[2]/source), " ", /domain/devices/disk[2]/target/@dev, " ", count(/domain/devices/disk[2]/readonly))' full.xml)" "cdrom 0 hdc 1"
eq "full: boot order cdrom, hd" "$(xp 'concat(/domain/os/boot[1]/@dev, ",", /domain/os/boot[2]/@dev)' full.xml)" "cdrom,hd"
eq "full: NICs user (e1000, forward 2222->22) and bridge br0" "$(xp 'concat(/domain/devices/interface[1]/@type, " ", /domain/devices/interface[1]/model/@type, " ", /domain/devices/interface[1]/portForward/range/@start, "-", /domain/devices/interface[1]/portForward/range/@to, " ", /domain/devices/interface[2]/source/@bridge, " ", /domain/devices/interface[2]/mac/@address)' full.xml)" "user e1000 2222-22 br0 00:16:3e:11:22:34"
eq "full: VNC display 3 = port 5903" "$(xp 'string(/domain/devices/graphics[@type="vnc"]/@port)' full.xml)" "5903"
eq "kern: kernel, initrd, cmdline" "$(xp 'concat(/domain/os/kernel, "|", /domain/os/initrd, "|", /domain/os/cmdline)' kern.xml)" "$T/vmlinuz|$T/initrd.img|console=ttyS0 root=/dev/vda ro quiet"
eq "kern: 9p shares as filesystems (squash = none, mapped = mapped-xattr)" "$(xp 'concat(/domain/devices/filesystem[1]/@accessmode, " ", /domain/devices/filesystem[1]/source/@dir, " ", /domain/devices/filesystem[1]/target/@dir, " ", /domain/devices/filesystem[2]/@accessmode)' kern.xml)" "squash $T share mapped"
eq "kern: channels on a unix socket and a pty" "$(xp 'concat(/domain/devices/channel[1]/@type, " ", /domain/devices/channel[1]/source/@path, " ", /domain/devices/channel[1]/target/@name, " ", /domain/devices/channel[2]/@type)' kern.xml)" "unix $T/qga.sock org.qemu.guest_agent.0 pty"
eq "kern: serial 1 to a file, no display" "$(xp 'concat(/domain/devices/serial[2]/source/@path, " ", count(/domain/devices/graphics))' kern.xml)" "$T/ttyS1.log 0"
eq "spice: SPICE on 5930 with a password, qxl 128 MiB" "$(xp 'concat(/domain/devices/graphics/@type, " ", /domain/devices/graphics/@port, " ", /domain/devices/graphics/@passwd, " ", /domain/devices/video/model/@type, " ", /domain/devices/video/model/@vram)' spice.xml)" "spice 5930 s3cret qxl 131072"
eq "efi: firmware efi, floppy on fdc, no NIC" "$(xp 'concat(/domain/os/@firmware, " ", /domain/devices/disk[1]/@device, " ", /domain/devices/disk[1]/target/@bus, " ", count(/domain/devices/interface))' efi.xml)" "efi floppy fdc 0"
eq "efi: no acpi feature, clock variable -3600" "$(xp 'concat(count(/domain/features/acpi), " ", /domain/clock/@offset, " ", /domain/clock/@adjustment)' efi.xml)" "0 variable -3600"

# libvirt's own dumpxml (its defaults: KiB units, vram, <address>es, ide
# controller, target dev of NICs) reads back as the same VM
run_ok lx lv_define kern.lv.xml kern
printf '%s\n' "$lx" | sed 's/00000000-0000-0000-0000-000000000000//' >kern.libvirt.xml
has "libvirt wrote KiB" "$lx" "unit='KiB'"
ok "undefine kern" vmkit undefine kern
ok "define --xml of libvirt's own dumpxml" vmkit define --xml kern.libvirt.xml
run_ok cfg vmkit config kern
eq "libvirt's rewrite gives back the same config" "$cfg" "$(cat kern.before)"
run_ok lx lv_define full.lv.xml full
printf '%s\n' "$lx" >full.libvirt.xml
has "libvirt filled in <address>es" "$lx" "<address type='drive'"
ok "define --xml of libvirt's rewrite under another name and uuid" \
   vmkit define --xml full.libvirt.xml --name full2 uuid=0d2b6a3e-4a4c-4b0e-9c61-1f7cbb2b2a01
run_ok cfg vmkit config full2
eq "the same config but name, uuid and the forward libvirt 9.0 cannot read" \
   "$(grep -v -e '^name' -e '^uuid' <<<"$cfg")" \
   "$(grep -v -e '^name' -e '^uuid' full.before | sed 's/,hostfwd=tcp:127.0.0.1:2222-:22//')"

# the libvirt lab's clone by hand: dumpxml, edit, define --xml
ok "copy the disk" cp root.qcow2 clone.qcow2
sed -e 's|<name>full</name>|<name>clone</name>|' \
    -e 's|<uuid>.*</uuid>|<uuid>7c0a4d36-1b8e-4f57-a0a5-0bb9a3c2d001</uuid>|' \
    -e 's|00:16:3e:11:22:33|00:16:3e:aa:bb:01|; s|00:16:3e:11:22:34|00:16:3e:aa:bb:02|' \
    -e "s|$T/root.qcow2|$T/clone.qcow2|" full.xml >clone.xml
ok "define --xml the edited copy" vmkit define --xml clone.xml
run_ok cfg vmkit config clone
has "clone: its own disk" "$cfg" "target=$T/clone.qcow2"
has "clone: its own MAC" "$cfg" "mac=00:16:3e:aa:bb:02"
has "clone: its own uuid" "$cfg" 'uuid = "7c0a4d36-1b8e-4f57-a0a5-0bb9a3c2d001"'
run_ok cfg vmkit config full
eq "the source is unchanged" "$cfg" "$(cat full.before)"
fails_with "the unedited XML again: uuid taken" 1 "already" vmkit define --xml full.xml --name full3

# bad input: one clear error naming what is wrong, exit 1, nothing stored
bad() { fails_with "$1" 1 "$2" vmkit define --xml "$3"; }   # desc, message, file
echo 'name = "x"' >notxml.xml
bad "not XML" "not a libvirt domain XML" notxml.xml
printf '<network><name>default</name></network>\n' >net.xml
bad "XML that is not a <domain>" "the root element is <network>, not <domain>" net.xml
: >empty.xml
bad "an empty file" "not a libvirt domain XML" empty.xml
# a domain with one more element each time
mkbad() {  # name, sed expression on tiny.xml
    sed -e 's/<name>tiny</<name>bad</; /<uuid>/d' -e "$2" tiny.xml >"$1.xml"
}
mkbad hostdev "s|</devices>|<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/></source></hostdev></devices>|"
bad "hostdev refused" "/domain/devices/hostdev: not supported" hostdev.xml
mkbad fs "s|</devices>|<filesystem type='block'><source dev='/dev/sdb'/><target dir='srv'/></filesystem></devices>|"
bad "a block filesystem refused" "/domain/devices/filesystem/@type='block': not supported" fs.xml
mkbad cache "s|</devices>|<disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'/><source file='$T/data.img'/><target dev='vdb'/></disk></devices>|"
bad "a disk cache mode refused by its attribute" "/domain/devices/disk/driver/@cache='none': not supported" cache.xml
mkbad netw "s|</devices>|<interface type='network'><source network='default'/></interface></devices>|"
bad "a libvirt network refused with the bridge hint" "@type='network': not supported: vmkit has no libvirt networks" netw.xml
mkbad sata "s|</devices>|<disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk></devices>|"
bad "a SATA disk refused" "/domain/devices/disk/target/@bus='sata'" sata.xml
mkbad xen "s|<domain type=\"[a-z]*\"|<domain type=\"xen\"|"
bad "a Xen domain refused" "/domain/@type='xen'" xen.xml
mkbad qns "s|<domain |<domain xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\" |; s|</devices>|</devices><qemu:commandline><qemu:arg value='-S'/></qemu:commandline>|"
bad "qemu:commandline refused" "/domain/qemu:commandline: not supported" qns.xml
mkbad cpumodel "s|</features>|</features><cpu mode='host-passthrough'/>|"
bad "a CPU model refused" "/domain/cpu/@mode='host-passthrough'" cpumodel.xml
mkbad mac "s|</devices>|<interface type='user'><mac address='00:16:3e:zz:00:01'/></interface></devices>|"
bad "a bad MAC (a typo in a hand edit) names the interface" "/domain/devices/interface[2]: vif 'type=user,mac=00:16:3e:zz:00:01': bad mac" mac.xml
mkbad dup "s|<memory unit=\"MiB\">128</memory>|&<memory unit=\"MiB\">256</memory>|"
bad "an element given twice" "/domain/memory[2]: not supported: given twice" dup.xml
mkbad mem "s|<memory unit=\"MiB\">128<|<memory unit=\"KiB\">1000<|"
bad "memory not in whole MiB" "whole MiB" mem.xml
printf '<?xml version="1.0"?>\n<!DOCTYPE domain [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>\n<domain type="qemu"><name>&b;</name><memory>131072</memory></domain>\n' >dtd.xml
bad "a DOCTYPE (entities) refused" "<!DOCTYPE> is not accepted" dtd.xml
bad "a missing file" "nope.xml" nope.xml
run_ok names vmkit list --all
eq "nothing of the bad input was stored" "$(awk 'NR > 1 { print $1 }' <<<"$names" | sort | tr '\n' ' ')" \
   "clone efi full full2 kern spice tiny "
ok "no stray file in the config directory" test "$(ls "$VMKIT_CONFIG_DIR" | wc -l)" -eq 7
fails_with "--name without --xml is a usage error" 2 "--name goes with --xml" vmkit define tiny.cfg --name x
fails_with "define with neither a config nor --xml" 2 "which config file" vmkit define

# a running VM (started paused: QEMU up, no guest boot): its real accel
printf 'name = "live"\nmemory = 64\nvif = []\nvnc = 0\n' >live.cfg
if ok "create -p live" vmkit create -p live.cfg; then
    run_ok x vmkit dumpxml live
    printf '%s\n' "$x" >live.xml
    ok "live: virt-xml-validate accepts the dumpxml of a running VM" virt-xml-validate live.xml domain
    run_ok j vmkit list -l --json live
    acc=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["accel"])' <<<"$j")
    eq "live: type as it runs ($acc)" "$(xp 'string(/domain/@type)' live.xml)" \
       "$([ "$acc" = kvm ] && echo kvm || echo qemu)"
    ok "destroy live" vmkit destroy live
fi

# dumpxml of what the XML cannot say, or of no VM
printf 'name = "pyg"\nbootloader = "pygrub"\ndisk = [ "vdev=xvda,access=rw,target=%s/data.img" ]\n' "$T" >pyg.cfg
ok "define a pygrub VM" vmkit define pyg.cfg
fails_with "dumpxml refuses pygrub, naming the key" 1 "pyg: bootloader: no libvirt domain XML equivalent" vmkit dumpxml pyg
fails_with "dumpxml of no VM" 1 "nosuch: no such VM" vmkit dumpxml nosuch
# libxml2 is loaded on first use (util/xmlso.c), not by every command:
# neither it nor the ICU it pulls in is linked
none "vmkit does not load libxml2 at start-up" \
    sh -c "ldd '$VMKIT' | grep -E 'libxml2|libicu' || true"
mkdir -p fakexml
printf 'int not_libxml2;\n' >fakexml/fake.c
ok "a stand-in libxml2.so.2 without its functions" cc -shared -o fakexml/libxml2.so.2 fakexml/fake.c
printf '<domain type="kvm"><name>x</name></domain>\n' >tiny.xml
fails_with "define --xml with a broken libxml2: named, exit 1" 1 \
    "libxml2 (for XML) cannot be loaded: libxml2.so.2 has no xmlCtxtGetLastError" \
    env LD_LIBRARY_PATH="$T/fakexml" "$VMKIT" define --xml tiny.xml
fails_with "... and nothing is defined" 1 "x: no such VM" vmkit dumpxml x
finish
