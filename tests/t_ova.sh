#!/bin/bash
# OVA out and in: export-ova of a defined VM (ext4 disk made by vmkit) is
# a ustar with the .ovf first, xmllint parses the OVF, sha256sum agrees
# with the manifest, the disk inside passes qemu-img check and compares
# equal to the source; import-ova gives back the same memory, vCPUs and
# disk content; a hand-written OVA in VirtualBox's style imports; bad
# input (not a tar, a digest mismatch, a missing disk, malformed XML, a
# VirtualSystemCollection) exits 1 naming the problem, leaving no config
# and no disk file.  No VM boots.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/img_lib.sh"
need qemu-img xmllint sha256sum tar e2fsck || { finish; exit; }
cd "$T" || exit 1
export VMKIT_RUNTIME_DIR=$T/run VMKIT_CONFIG_DIR=$T/etc
FIX=$TOP/tests/fixtures/ova

ok "qemu-img create root.qcow2" qemu-img create -q -f qcow2 root.qcow2 48M
ok "mkfs ext4 in it" vmkit fs mkfs -t ext4 -L ovaroot root.qcow2
ok_in "a file in it" 'hello from vmkit\n' vmkit fs write root.qcow2:/hello.txt
cat >web.cfg <<CFG
name = "web"
type = "hvm"
memory = 384
vcpus = 2
disk = [ 'format=qcow2,vdev=hda,access=rw,target=$T/root.qcow2', ',hdc:cdrom,r' ]
vif = [ 'model=e1000' ]
CFG
ok "define web" vmkit define web.cfg

# --- export ---
ok "export-ova web" vmkit export-ova web web.ova
run_ok list tar tf web.ova
eq "tar: the .ovf first, then the disk, then the manifest" "$(echo $list)" "web.ovf web-disk1.vmdk web.mf"
has "ustar format" "$(head -c 263 web.ova | tail -c 6)" "ustar"
mkdir x && ok "tar xf" tar xf web.ova -C x
ok "xmllint parses the OVF" xmllint --noout x/web.ovf
has "OVF capacity is the disk's size" "$(cat x/web.ovf)" 'ovf:capacity="50331648"'
has "memory item 384 MiB" "$(cat x/web.ovf)" '<rasd:VirtualQuantity>384</rasd:VirtualQuantity>'
has "streamOptimized format URL" "$(cat x/web.ovf)" 'vmdk.html#streamOptimized'
has "a NIC item" "$(cat x/web.ovf)" '<rasd:ResourceType>10</rasd:ResourceType>'
has "a CD item" "$(cat x/web.ovf)" '<rasd:ResourceType>15</rasd:ResourceType>'
run_ok sums bash -c "cd x && sha256sum web.ovf web-disk1.vmdk | sed 's/^\([0-9a-f]*\)  \(.*\)/SHA256(\2)= \1/'"
eq "manifest matches sha256sum" "$sums" "$(cat x/web.mf)"
eq "qemu-img sees a streamOptimized vmdk" "$(qemu-img info --output=json x/web-disk1.vmdk | grep -o '"create-type": "[a-zA-Z]*"')" '"create-type": "streamOptimized"'
ok "qemu-img check the disk" qemu-img check -q -f vmdk x/web-disk1.vmdk
ok "qemu-img compare disk = source" qemu-img compare -q -f vmdk -F qcow2 x/web-disk1.vmdk root.qcow2
fails_with "export over an existing file refused" 1 "file exists" vmkit export-ova web web.ova
fails_with "export of an undefined VM" 1 "nope" vmkit export-ova nope n.ova
[ ! -e n.ova ] && [ ! -e n.ova.tmp ]; eq "nothing left by the failed export" "$?" 0

# --- import back ---
mkdir imp
run_ok got vmkit import-ova web.ova --name web2 --dir imp
eq "import prints the name" "$got" web2
run_ok cfg vmkit config web2
has "memory kept" "$cfg" "memory = 384"
has "vcpus kept" "$cfg" "vcpus = 2"
has "disk is the qcow2 in --dir" "$cfg" "target=$T/imp/web2-disk1.qcow2"
has "an e1000 NIC" "$cfg" "model=e1000"
has "an empty cdrom" "$cfg" "cdrom"
ok "qemu-img check imported disk" qemu-img check -q -f qcow2 imp/web2-disk1.qcow2
ok "imported disk = source" qemu-img compare -q -f qcow2 -F qcow2 imp/web2-disk1.qcow2 root.qcow2
ok "e2fsck -fn on it" bash -c "qemu-img convert -O raw imp/web2-disk1.qcow2 r.raw && e2fsck -fn r.raw"
eq "file content" "$(vmkit fs cat imp/web2-disk1.qcow2:/hello.txt)" "hello from vmkit"
fails_with "import under a defined name refused" 1 "web2" vmkit import-ova web.ova --name web2 --dir imp
eq "the refused import left its disk alone" "$(ls imp)" "web2-disk1.qcow2"
run_ok got vmkit import-ova web.ova --name web3 --dir imp --format raw
ok "raw import compares equal" qemu-img compare -q -f raw -F qcow2 imp/web3-disk1.raw root.qcow2

# --- a VirtualBox-style OVA, written by hand ---
mkdir vb && cp "$FIX/vbox.ovf" vb/vboxvm.ovf
ok "qemu-img create vbox disk" qemu-img create -q -f raw vb.raw 32M
printf 'vbox data' | dd of=vb.raw bs=1 seek=1048576 conv=notrunc status=none
ok "qemu-img makes the streamOptimized disk" qemu-img convert -f raw -O vmdk -o subformat=streamOptimized vb.raw vb/vboxvm-disk001.vmdk
(cd vb && sha1sum vboxvm.ovf vboxvm-disk001.vmdk | sed 's/^\([0-9a-f]*\)  \(.*\)/SHA1(\2)= \1/' >vboxvm.mf)
ok "tar the VirtualBox OVA" tar --format=ustar -C vb -cf vbox.ova vboxvm.ovf vboxvm-disk001.vmdk vboxvm.mf
run_ok got vmkit import-ova vbox.ova
eq "name from the OVF" "$got" vboxvm
run_ok cfg vmkit config vboxvm
has "vbox memory (MegaBytes)" "$cfg" "memory = 384"
has "vbox vcpus" "$cfg" "vcpus = 2"
ok "vbox disk content" qemu-img compare -q -f qcow2 -F raw vboxvm-disk1.qcow2 vb.raw

# --- an ovftool-style OVA (capacity in GiB units, SCSI, SHA256 manifest) ---
mkdir ot && cp "$FIX/ovftool.ovf" ot/photon.ovf
ok "qemu-img create photon disk" qemu-img create -q -f raw p.raw 4M
ok "qemu-img makes photon's vmdk" qemu-img convert -f raw -O vmdk -o subformat=streamOptimized p.raw ot/photon-disk1.vmdk
(cd ot && sha256sum photon.ovf photon-disk1.vmdk | sed 's/^\([0-9a-f]*\)  \(.*\)/SHA256(\2)= \1/' >photon.mf)
ok "tar the ovftool OVA" tar --format=ustar -C ot -cf photon.ova photon.ovf photon-disk1.vmdk photon.mf
run_ok got vmkit import-ova photon.ova --format raw
run_ok cfg vmkit config photon
has "ovftool memory (byte * 2^20)" "$cfg" "memory = 2048"
eq "disk grown to ovf:capacity 16 GiB (byte * 2^30)" "$(qinfo photon-disk1.raw virtual-size raw)" 17179869184

# --- bad input: exit 1, clear message, nothing left behind ---
nothing_left() {  # DESC NAME
    _l=$(ls -A bad; ls "$VMKIT_CONFIG_DIR" | grep -F "$2")
    eq "$1: nothing left behind" "${_l:-none}" none
}
mkdir bad
bad_ova() {  # NAME: tar of vb/ (after edits) as bad/../NAME.ova
    tar --format=ustar -C vb -cf "$1.ova" $(cd vb && ls)
}
printf 'not a tar at all\n%.0s' {1..100} >junk.ova
fails_with "not a tar" 1 "not a tar" vmkit import-ova junk.ova --name j1 --dir bad
nothing_left "not a tar" j1

cp -r vb vb.orig
printf 'x' | dd of=vb/vboxvm-disk001.vmdk bs=1 seek=70000 conv=notrunc status=none
bad_ova digest
fails_with "digest mismatch names the file" 1 "vboxvm-disk001.vmdk: SHA1 digest mismatch" vmkit import-ova digest.ova --name j2 --dir bad
nothing_left "digest mismatch" j2

rm -rf vb && cp -r vb.orig vb && rm vb/vboxvm-disk001.vmdk vb/vboxvm.mf
bad_ova missing
fails_with "missing disk named" 1 "vboxvm-disk001.vmdk' (named by the OVF) is missing" vmkit import-ova missing.ova --name j3 --dir bad
nothing_left "missing disk" j3

rm -rf vb && cp -r vb.orig vb && rm vb/vboxvm.mf && sed -i 's|</References>|</Reference>|' vb/vboxvm.ovf
bad_ova malformed
fails_with "malformed XML" 1 "not well-formed XML" vmkit import-ova malformed.ova --name j4 --dir bad
nothing_left "malformed XML" j4

rm -rf vb && cp -r vb.orig vb && rm vb/vboxvm.mf && sed -i 's|<VirtualSystem ovf:id="vboxvm">|<VirtualSystemCollection ovf:id="c"><VirtualSystem ovf:id="vboxvm">|; s|</VirtualSystem>|</VirtualSystem></VirtualSystemCollection>|' vb/vboxvm.ovf
bad_ova coll
fails_with "a VirtualSystemCollection refused" 1 "VirtualSystemCollection" vmkit import-ova coll.ova --name j5 --dir bad
nothing_left "collection" j5

rm -rf vb && cp -r vb.orig vb && rm vb/vboxvm.mf && sed -i 's|vmdk.html#streamOptimized|vhd.html|; s|www.vmware.com/interfaces/specifications/vhd|www.microsoft.com/vhd|' vb/vboxvm.ovf
bad_ova vhd
fails_with "non-VMDK disk refused" 1 "not VMDK" vmkit import-ova vhd.ova --name j6 --dir bad
nothing_left "non-VMDK" j6

rm -rf vb && cp -r vb.orig vb && rm vb/vboxvm.mf && sed -i 's|<?xml version="1.0"?>|<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>|' vb/vboxvm.ovf
bad_ova dtd
fails_with "a DOCTYPE refused" 1 "DOCTYPE" vmkit import-ova dtd.ova --name j7 --dir bad
nothing_left "DOCTYPE" j7

# a member named with a path is refused (no escape from the temp dir)
rm -rf vb && cp -r vb.orig vb && mkdir vb/sub && mv vb/vboxvm.mf vb/sub/
tar --format=ustar -C vb -cf path.ova vboxvm.ovf vboxvm-disk001.vmdk sub/vboxvm.mf
fails_with "a member with a path refused" 1 "refused" vmkit import-ova path.ova --name j8 --dir bad
nothing_left "path member" j8
finish
