#!/bin/bash
# vmkit clone [--linked] SRC NEW, as virt-clone: the clone's config has a
# new name, uuid and MAC; its disks are sparse copies (full) or qcow2
# overlays on the source's disks (linked, checked with qemu-img info and
# check); the CD-ROM is shared; the source's files are never changed.  A
# full and a linked clone boot side by side: each guest reads the
# source's marker from its own disk and has the MAC and uuid its config
# names (asked of the guest and of QEMU).  The source, now a linked
# clone's backing file, is refused a start naming that clone.  Bad input:
# an existing name, a running source, an unknown source, a new disk's file
# already there: exit 1, nothing defined, no file left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm_lib.sh"
need qemu-img || { finish; exit; }

key() { sed -n "s/^$2 = \"\(.*\)\"/\1/p" "etc/$1.cfg"; }
mac() { sed -n 's/.*mac=\([0-9a-f:]*\).*/\1/p' "etc/$1.cfg"; }
target() { sed -n "s/.*vdev=$2,.*target=\([^\"]*\)\".*/\1/p" "etc/$1.cfg"; }
qinfo() {  # FILE KEY: a field of qemu-img info --output=json
    qemu-img info -U --output=json "$1" | python3 -c "import json,sys; print(json.load(sys.stdin).get('$2'))"
}
sums() { sha256sum src.qcow2 src-data.img cd.iso | awk '{print $1}' | tr '\n' ' '; }

# the source: a qcow2 system disk with a marker, a raw data disk, a CD
printf 'SRC-MARK-4711' >mark.raw && truncate -s 16M mark.raw
ok "qemu-img convert the marked disk to src.qcow2" qemu-img convert -f raw -O qcow2 mark.raw src.qcow2
printf 'DATA-MARK-815' >src-data.img && truncate -s 8M src-data.img
printf 'CD' >cd.iso && truncate -s 1M cd.iso
guest_cfg src "disk = ['format=qcow2,vdev=xvda,target=$T/src.qcow2', 'format=raw,vdev=xvdb,target=$T/src-data.img', 'format=raw,vdev=hdc,devtype=cdrom,target=$T/cd.iso']" >src.cfg
ok "define src (one user-mode NIC)" vmkit define src.cfg "vif=['type=user']"
before=$(sums)

fails_with "clone without NEW: usage" 2 "clone" vmkit clone src
ok "clone src full" vmkit clone src full
ok "clone --linked src lnk" vmkit clone --linked src lnk
eq "the source's disks and CD are unchanged" "$(sums)" "$before"

# identities
for n in full lnk; do
    eq "$n: its own name" "$(key $n name)" "$n"
    ok "$n: a uuid other than src's" test -n "$(key $n uuid)" -a "$(key $n uuid)" != "$(key src uuid)"
    ok "$n: a MAC other than src's" test -n "$(mac $n)" -a "$(mac $n)" != "$(mac src)"
    has "$n: the MAC is in xl's range" "$(mac $n)" "00:16:3e:"
    eq "$n: the CD-ROM is shared" "$(target $n hdc)" "$T/cd.iso"
done
ok "full and lnk: distinct uuids" test "$(key full uuid)" != "$(key lnk uuid)"
ok "full and lnk: distinct MACs" test "$(mac full)" != "$(mac lnk)"

# full clone: independent sparse copies
eq "full: system disk" "$(target full xvda)" "$T/full.qcow2"
eq "full: data disk (src replaced by the new name)" "$(target full xvdb)" "$T/full-data.img"
ok "qemu-img check full.qcow2" qemu-img check -q full.qcow2
eq "full.qcow2 has no backing file" "$(qinfo full.qcow2 backing-filename)" None
ok "qemu-img compare: full.qcow2 holds src.qcow2's data" qemu-img compare -q src.qcow2 full.qcow2
ok "full-data.img is a byte copy of the raw data disk" cmp src-data.img full-data.img
eq "full-data.img is raw" "$(qinfo full-data.img format)" raw

# linked clone: overlays on the source's disks
eq "lnk: system disk" "$(target lnk xvda)" "$T/lnk.qcow2"
eq "lnk: the raw disk's overlay is a .qcow2" "$(target lnk xvdb)" "$T/lnk-data.img.qcow2"
has "lnk's config says qcow2 for the overlay" "$(grep xvdb etc/lnk.cfg)" "format=qcow2"
eq "qemu-img: lnk.qcow2 is backed by src.qcow2" "$(qinfo lnk.qcow2 backing-filename)" "$T/src.qcow2"
eq "qemu-img: ... as qcow2" "$(qinfo lnk.qcow2 backing-filename-format)" qcow2
eq "qemu-img: lnk-data.img.qcow2 is backed by the raw disk" "$(qinfo lnk-data.img.qcow2 backing-filename)" "$T/src-data.img"
eq "qemu-img: ... as raw" "$(qinfo lnk-data.img.qcow2 backing-filename-format)" raw
ok "qemu-img check lnk.qcow2" qemu-img check -q lnk.qcow2
ok "qemu-img check lnk-data.img.qcow2" qemu-img check -q lnk-data.img.qcow2
ok "the overlay reads the source's data" qemu-img compare -q src.qcow2 lnk.qcow2

# bad input: one clear error, nothing defined, no file left
files=$(ls | sort | tr '\n' ' ')
fails_with "clone onto a defined name" 1 "full: a VM of that name is already defined" vmkit clone src full
fails_with "clone of an unknown VM" 1 "nosuch" vmkit clone nosuch other
fails_with "clone to a bad name" 1 "not a valid" vmkit clone src 'a/b'
printf 'keep' >new.qcow2
fails_with "clone whose disk file exists" 1 "$T/new.qcow2: file exists" vmkit clone src new
eq "... the existing file is untouched" "$(cat new.qcow2)" keep
rm -f new.qcow2
eq "no file left by the refused clones" "$(ls | sort | tr '\n' ' ')" "$files"
ok "no config left by the refused clones" test ! -e etc/new.cfg -a ! -e etc/other.cfg

# the source backs lnk's disks: vmkit will not let it write them
fails_with "start src refused: lnk builds on its disk" 1 "backing file of the defined VM 'lnk'" vmkit start src

# both clones boot next to each other
ok "start full" vmkit start full
ok "start lnk" vmkit start lnk
fails_with "clone of a running VM refused" 1 "full: VM is running" vmkit clone full again
ok "nothing made for it" test ! -e etc/again.cfg -a ! -e again.qcow2
for n in full lnk; do
    ok "$n reaches VMKIT-READY" wait_log $n VMKIT-READY 1 90 || continue
    wait_log $n 'built-in shell' 1 30
    has "$n: the guest reads the source's marker from its disk" \
        "$(gsh $n 'dd if=/dev/vda bs=13 count=1 2>/dev/null; echo')" "SRC-MARK-4711"
    has "$n: ... and the data disk's" "$(gsh $n 'dd if=/dev/vdb bs=13 count=1 2>/dev/null; echo')" "DATA-MARK-815"
    has "$n: the guest's NIC has the config's MAC" "$(gsh $n 'cat /sys/class/net/eth0/address')" "$(mac $n)"
    eq "QMP: $n's QEMU has the config's uuid" "$(quuid $n)" "$(key $n uuid)"
done
ok "lnk's guest writes its disk" gsh lnk 'echo LNK-WROTE | dd of=/dev/vda conv=fsync 2>/dev/null; echo done'
ok "shutdown -w full" vmkit shutdown -w -t 30 full
ok "shutdown -w lnk" vmkit shutdown -w -t 30 lnk
ok "qemu-img check lnk.qcow2 after the guest wrote" qemu-img check -q lnk.qcow2
ok "qemu-img convert lnk.qcow2 to raw" qemu-img convert -O raw lnk.qcow2 lnk.raw
eq "lnk.qcow2 has the guest's write" "$(head -c 9 lnk.raw)" "LNK-WROTE"
rm -f lnk.raw
eq "the source's disks are still unchanged" "$(sums)" "$before"

ok "undefine lnk" vmkit undefine lnk
ok "src starts once no clone builds on it" vmkit start src
ok "destroy src" vmkit destroy src
no_qemu_left "no QEMU left"
vm_finish
