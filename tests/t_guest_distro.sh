#!/bin/bash
# vmkit guest build --distro debian, without the network: mmdebstrap is
# replaced by tests/tools/fake_mmdebstrap.py (first in PATH), which writes a
# small tree as a tar stream the way `mmdebstrap --format=tar ... -` does.
# What is checked is vmkit's part: the mmdebstrap command line, the stream
# poured into ext4 (owners, modes, hard links, device nodes, the
# security.capability xattr) on an MBR partition at 1 MiB, fstab and
# grub.cfg naming the filesystem's UUID (blkid), the hook files (the
# customize script, the ssh key), OUT.cfg, and the refusals: bad options
# (exit 2 or 1 before anything is made), mmdebstrap missing, failing, cut
# short or too big for --size (the message names the cause, no OUT and no
# temporary file left).  The real build and boot: tests/long/t_guest_debian.sh.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
need python3 sfdisk e2fsck debugfs blkid || { finish; exit; }

mkdir bin
ln -s "$TOP/tests/tools/fake_mmdebstrap.py" bin/mmdebstrap
ssh-keygen -q -t ed25519 -N '' -C test@vmkit -f key >/dev/null 2>&1 ||
    printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000000 test@vmkit\n' >key.pub
fake() { PATH="$T/bin:$PATH" "$@"; }
# nothing but the files the test made: no OUT, no .OUT.vmkit-* leftovers
left() { ls -A | grep -v -e '^bin$' -e '^key' -e '^\.out$' -e '^\.std' -e '^p1$' | sort | tr '\n' ' '; }

# ---- a build from the fake tree ----
ok "guest build --distro debian (fake mmdebstrap)" \
    fake vmkit guest build -q --distro debian:bookworm --bootloader pygrub --size 64M \
    --hostname web1 --packages curl,vim --ssh-key key.pub --user alice d.img
cp "$T/.out" .stdbuild
eq "only d.img and d.img.cfg made" "$(left)" "d.img d.img.cfg "
case $(cat .stdbuild) in *warning*) r="$(cat .stdbuild)" ;; *) r=none ;; esac
eq "no warning (UTF-8 names in the C locale)" "$r" none
ok "sfdisk --verify" sfdisk --verify d.img
has "one bootable Linux partition at 1 MiB" "$(sfdisk -d d.img)" "start=        2048, size=      129024, type=83, bootable"
ok "partition 1 copied out" dd if=d.img of=p1 bs=1M skip=1 status=none
ok "e2fsck -fn on the partition" e2fsck -fn p1
eq "ext4" "$(blkid -o value -s TYPE p1)" "ext4"
eq "label debian-root" "$(blkid -o value -s LABEL p1)" "debian-root"
uuid=$(blkid -o value -s UUID p1)
dbg() { debugfs -R "$1" p1 2>/dev/null; }
has "fstab names the root by its UUID (blkid)" "$(dbg 'cat /etc/fstab')" "UUID=${uuid:-none}	/	ext4"
grub=$(dbg 'cat /boot/grub/grub.cfg')
has "grub.cfg boots the kernel with root=UUID" "$grub" "linux	/boot/vmlinuz-6.1.0-99-cloud-amd64 root=UUID=${uuid:-none} ro"
has "grub.cfg: serial console" "$grub" "console=ttyS0,115200"
has "grub.cfg: the initramfs" "$grub" "initrd	/boot/initrd.img-6.1.0-99-cloud-amd64"
stat_of() { dbg "stat $1" | head -6 | tr -s ' \t' ' '; }
has "owner kept (uid 1000)" "$(stat_of /home/user/notes)" "User: 1000 Group: 1000"
has "setgid dir mode kept" "$(stat_of /var/mail)" "Mode: 02775"
has "setuid mode kept" "$(stat_of /usr/bin/su)" "Mode: 04755"
has "hard link: 2 links" "$(stat_of /usr/bin/perl5.36)" "Links: 2"
eq "hard link: same inode" "$(dbg 'ls -l /usr/bin' | awk '$NF=="perl"{print $1}')" \
    "$(dbg 'ls -l /usr/bin' | awk '$NF=="perl5.36"{print $1}')"
has "char device 1,3" "$(dbg 'stat /dev/null')" "Device major/minor number: 01:03"
has "block device 8,0" "$(dbg 'stat /dev/sda')" "Device major/minor number: 08:00"
has "security.capability xattr kept" "$(dbg 'ea_list /usr/bin/ping')" "security.capability"
has "symlink" "$(dbg 'stat /dev/fd')" 'Fast link dest: "/proc/self/fd"'
eq "a UTF-8 name kept byte for byte" "$(dbg 'cat /usr/share/NetLock_Arany_Főtanúsítvány.crt')" "cert"
has "ssh key uploaded for the customize hook" "$(dbg 'cat /tmp/vmkit-keys')" "$(cut -d' ' -f2 key.pub)"
script=$(dbg 'cat /tmp/vmkit-customize')
has "customize: hostname" "$script" "echo web1 >/etc/hostname"
has "customize: serial getty" "$script" "serial-getty@ttyS0.service"
has "customize: the getty waits for ttyS0 however slow the boot" "$script" "JobRunningTimeoutSec=infinity"
has "customize: DHCP on the NICs" "$script" "DHCP=yes"
has "customize: the user" "$script" "useradd -m -s /bin/bash alice"
has "customize: key for the user" "$script" "/home/alice/.ssh/authorized_keys"
args=$(dbg 'cat /var/log/fake-mmdebstrap.args')
has "mmdebstrap: root mode as root, unshare otherwise" "$args" "--mode=$([ "$(id -u)" = 0 ] && echo root || echo unshare)"
has "mmdebstrap: tar on stdout" "$args" "--format=tar"
has "mmdebstrap: kernel, sshd, sudo and the packages" "$args" "linux-image-cloud-amd64,openssh-server,sudo,curl,vim"
has "mmdebstrap: the suite and the mirror" "$args" "deb http://deb.debian.org/debian bookworm main"
has "mmdebstrap: security updates" "$args" "bookworm-security main"
has "mmdebstrap: packages cached under the cache dir" "$args" "vmkit/debian/bookworm-amd64/archives /var/cache/apt/archives"
cfg=$(cat d.img.cfg)
has "xl.cfg: pygrub" "$cfg" 'bootloader = "pygrub"'
has "xl.cfg: absolute disk path" "$cfg" "target=$T/d.img'"
has "xl.cfg: name is the hostname" "$cfg" 'name = "web1"'
has "xl.cfg: 512 MiB for systemd" "$cfg" "memory = 512"
mkdir k
has "vmkit's pygrub finds the kernel and root=UUID" "$(vmkit guest pygrub d.img k)" "root=UUID=$uuid"
ok "pygrub's kernel is the tree's (cmp)" cmp k/kernel <(dbg 'cat /boot/vmlinuz-6.1.0-99-cloud-amd64')
rm -rf k

ok "--distro debian:trixie -f qcow2, no ssh key" \
    fake vmkit guest build -q --distro debian:trixie --bootloader pygrub -f qcow2 --size 64M t.qcow2
ok "qemu-img check" qemu-img check t.qcow2
ok "qcow2 converted to raw" qemu-img convert -O raw t.qcow2 t.raw
ok "qcow2: sfdisk --verify" sfdisk --verify t.raw
dd if=t.raw of=p1 bs=1M skip=1 status=none
ok "qcow2: e2fsck -fn" e2fsck -fn p1
has "no key: root gets no password on the console" "$(dbg 'cat /tmp/vmkit-customize')" "passwd -d root"
args=$(dbg 'cat /var/log/fake-mmdebstrap.args')
has "no key: the kernel package" "$args" "--include=systemd-sysv,"
case $args in *openssh*) r=sshd ;; *) r=none ;; esac
eq "no key: no openssh-server" "$r" none
has "trixie's security suite" "$(dbg 'cat /var/log/fake-mmdebstrap.args')" "trixie-security main"
rm -f t.qcow2 t.qcow2.cfg t.raw

# ---- refusals before anything is made ----
fails_with "unknown distro (usage)" 2 "--distro 'fedora' unknown" vmkit guest build --distro fedora x.img
fails_with "busybox takes no suite" 2 "takes no suite" vmkit guest build --distro busybox:sid x.img
fails_with "empty suite" 2 "empty suite" vmkit guest build --distro debian: x.img
fails_with "--packages without --distro debian" 2 "--packages is for Debian guests" vmkit guest build --packages vim x.img
fails_with "bad --bootloader" 2 "grub or pygrub" vmkit guest build --distro debian --bootloader lilo x.img
fails_with "unknown suite" 1 "debian suite 'hamm' unknown" fake vmkit guest build -q --distro debian:hamm x.img
fails_with "a bad package name" 1 "'vim;reboot' is not a package name" fake vmkit guest build -q --distro debian --packages 'curl,vim;reboot' x.img
fails_with "a bad user name" 1 "--user 'Bob Smith'" fake vmkit guest build -q --distro debian --user 'Bob Smith' x.img
fails_with "user root refused" 1 "not root" fake vmkit guest build -q --distro debian --user root x.img
fails_with "a bad hostname" 1 "hostname 'a_b'" fake vmkit guest build -q --distro debian --hostname a_b x.img
fails_with "a missing key file" 1 "nokey.pub" fake vmkit guest build -q --distro debian --ssh-key nokey.pub x.img
fails_with "a private key refused" 1 "a private key; give the public one" fake vmkit guest build -q --distro debian --ssh-key key x.img
printf 'not a key\n' >key.bad
fails_with "a file that is not a public key" 1 "line 1 is not an OpenSSH public key" fake vmkit guest build -q --distro debian --ssh-key key.bad x.img
fails_with "--rootfs-dir is busybox only" 1 "only the busybox guest" fake vmkit guest build -q --distro debian --rootfs-dir x
before=$(md5sum <d.img)
fails_with "existing OUT refused" 1 "d.img: already exists" fake vmkit guest build -q --distro debian --bootloader pygrub d.img
eq "existing image untouched" "$(md5sum <d.img)" "$before"
rm -f key.bad
eq "nothing left by the refusals" "$(left)" "d.img d.img.cfg "

# ---- mmdebstrap missing, failing, cut short; no room ----
fails_with "mmdebstrap missing: named, with the package to install" 1 "install the Debian package mmdebstrap" \
    env PATH=/nonexistent "$VMKIT" guest build -q --distro debian --bootloader pygrub --size 64M x.img
fails_with "mmdebstrap failing: its E: line in the message" 1 "mmdebstrap failed (exit 1): E: Failed to fetch" \
    env FAKE_MMDEBSTRAP=fail PATH="$T/bin:$PATH" "$VMKIT" guest build -q --distro debian --bootloader pygrub --size 64M x.img
fails_with "mmdebstrap cut short: its failure, not the reader's" 1 "mmdebstrap failed (exit 1): E: write error" \
    env FAKE_MMDEBSTRAP=cut PATH="$T/bin:$PATH" "$VMKIT" guest build -q --distro debian --bootloader pygrub --size 64M x.img
fails_with "no kernel in the tree" 1 "no vmlinuz-VERSION" \
    env FAKE_MMDEBSTRAP=nokernel PATH="$T/bin:$PATH" "$VMKIT" guest build -q --distro debian --bootloader pygrub --size 64M x.img
fails_with "too big for --size: says so" 1 "does not fit in 41 MiB" \
    env FAKE_MMDEBSTRAP=big PATH="$T/bin:$PATH" "$VMKIT" guest build -q --distro debian --bootloader pygrub --size 41M x.img
eq "no half-built image left by any failure" "$(left)" "d.img d.img.cfg "

# ---- guest seed: a cloud-init NoCloud ISO ----
need xorriso || { finish; exit; }
printf '#cloud-config\nhostname: seeded\nssh_authorized_keys:\n  - %s\n' "$(cat key.pub)" >ud
printf 'version: 2\nethernets:\n  all:\n    match: {name: "e*"}\n    dhcp4: true\n' >nc
ok "guest seed --user-data --network-config" vmkit guest seed --user-data ud --network-config nc s.iso
eq "blkid: iso9660" "$(blkid -o value -s TYPE s.iso)" "iso9660"
eq "blkid: volume id cidata" "$(blkid -o value -s LABEL s.iso)" "cidata"
mkdir x
ok "xorriso extracts the seed" xorriso -osirrox on -indev s.iso -extract / x
ok "user-data as given (cmp)" cmp ud x/user-data
ok "network-config as given (cmp)" cmp nc x/network-config
has "meta-data: an instance-id" "$(cat x/meta-data)" "instance-id: iid-vmkit-"
has "meta-data: the hostname from OUT's name" "$(cat x/meta-data)" "local-hostname: s"
rm -rf x
printf 'instance-id: fixed\n' >md
ok "guest seed --meta-data" vmkit guest seed --user-data ud --meta-data md s2.iso
mkdir x
ok "xorriso extracts it" xorriso -osirrox on -indev s2.iso -extract / x
ok "meta-data as given (cmp)" cmp md x/meta-data
eq "no network-config when none given" "$(ls x | tr '\n' ' ')" "meta-data user-data "
rm -rf x
ok "guest seed --hostname" vmkit guest seed --user-data ud --hostname web-2 s3.iso
mkdir x
ok "xorriso extracts it" xorriso -osirrox on -indev s3.iso -extract / x
has "meta-data: the given hostname" "$(cat x/meta-data)" "local-hostname: web-2"
rm -rf x
before=$(md5sum <s.iso)
fails_with "seed: existing OUT refused" 1 "s.iso: already exists" vmkit guest seed --user-data ud s.iso
eq "seed: existing OUT untouched" "$(md5sum <s.iso)" "$before"
fails_with "seed: --user-data required" 2 "--user-data FILE is required" vmkit guest seed n.iso
fails_with "seed: no OUT" 2 "need OUT.iso" vmkit guest seed --user-data ud
fails_with "seed: a missing file named" 1 "--user-data nosuch" vmkit guest seed --user-data nosuch n.iso
printf '#cloud-config\n\0\n' >bin.dat
fails_with "seed: binary user-data refused" 1 "binary data" vmkit guest seed --user-data bin.dat n.iso
fails_with "seed: a directory is not a file" 1 "not a regular file" vmkit guest seed --user-data ud --meta-data . n.iso
fails_with "seed: --hostname with --meta-data" 2 "not with --meta-data" vmkit guest seed --user-data ud --meta-data md --hostname h n.iso
rm -f bin.dat ud nc md s.iso s2.iso s3.iso
eq "seed: nothing left by the refusals" "$(left)" "d.img d.img.cfg "
finish
