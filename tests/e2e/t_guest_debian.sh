#!/bin/bash
# vmkit guest build --distro debian, for real (make check-debian: 20-40 min
# on 2 cores, too long for the CI budget; not in .ci/run): mmdebstrap
# downloads Debian from the mirror (packages cached in ~/.cache/vmkit/debian,
# so a second build is faster), the tar stream is poured into ext4, and
# the guest boots under `vmkit create` (TCG) to a login prompt on ttyS0.
# It boots first through the GRUB that guest build installs (QEMU's BIOS,
# boot = "c"), the second time through pygrub.  Then ssh with the given
# key through a hostfwd port runs `systemctl is-system-running` and
# `apt-get --version`; `poweroff` leaves a clean filesystem (e2fsck -fn);
# the disk boots a second time.
# Checked with sfdisk --verify, e2fsck -fn, blkid, debugfs, ssh.  Prints the
# build time and the time to the login prompt.
. "$(dirname "$0")/../lib.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)   # lib.sh takes tests/ for the top from here
. "$TOP/tests/vm_lib.sh"
need mmdebstrap ssh ssh-keygen sfdisk e2fsck debugfs blkid || { finish; exit; }
BOOT_SECS=${BOOT_SECS:-1500}   # TCG on a loaded 2-core host: minutes

freeport() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ssh-keygen -q -t ed25519 -N '' -C vmkit-test -f key >/dev/null 2>&1
t0=$(date +%s)
ok "guest build --distro debian (bookworm, ssh key, extra packages; GRUB, the default)" \
    vmkit guest build -q --distro debian --hostname deb1 \
    --packages less,iputils-ping --ssh-key key.pub g.img
t1=$(date +%s)
echo "# build: $((t1 - t0)) s"
[ -f g.img ] || { vm_finish; exit 1; }
ok "sfdisk --verify" sfdisk --verify g.img
has "one bootable Linux partition at 1 MiB" "$(sfdisk -d g.img)" "start=        2048,"
ok "partition 1 copied out" dd if=g.img of=p1 bs=1M skip=1 status=none conv=sparse
ok "e2fsck -fn on the partition" e2fsck -fn p1
uuid=$(blkid -o value -s UUID p1)
dbg() { debugfs -R "$1" p1 2>/dev/null; }
has "fstab: the root by UUID (blkid)" "$(dbg 'cat /etc/fstab')" "UUID=${uuid:-none}	/	ext4"
eq "hostname" "$(dbg 'cat /etc/hostname')" "deb1"
has "root's authorized_keys" "$(dbg 'cat /root/.ssh/authorized_keys')" "$(cut -d' ' -f2 key.pub)"
has "a kernel in /boot" "$(dbg 'ls -p /boot')" "vmlinuz-"
has "an initramfs in /boot (initramfs-tools)" "$(dbg 'ls -p /boot')" "initrd.img-"
has "/usr/bin/ping keeps its capability xattr" "$(dbg 'ea_list /usr/bin/ping')" "security.capability" 
has "serial getty enabled" "$(dbg 'ls -p /etc/systemd/system/getty.target.wants')" "serial-getty@ttyS0.service"
has "sshd installed" "$(dbg 'ls -p /usr/sbin')" "/sshd/"
none "no customize leftovers in /tmp" sh -c "debugfs -R 'ls /tmp' p1 2>/dev/null | grep -o 'vmkit-[a-z]*' || true"
rm -f p1

port=$(freeport)
boot() {  # NAME [KEY=VALUE]: create, wait for the login prompt; sets $secs
    _b=$(date +%s)
    ok "create $1 with a hostfwd port ${2:-}" vmkit create g.img.cfg name="$1" ${2:+"$2"} \
        "vif=['type=user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$port-:22']"
    wait_log "$1" "deb1 login:" 1 "$BOOT_SECS"
    ok "$1: login prompt on the serial console" in_log "$1" "deb1 login:"
    secs=$(( $(date +%s) - _b ))
    echo "# $1: login prompt after $secs s"
}
S() { timeout 120 ssh -i key -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no -o LogLevel=ERROR \
        -o UserKnownHostsFile=/dev/null -o ConnectTimeout=30 root@127.0.0.1 "$@" 2>&1; }
# sshd comes up a little after the login prompt
wait_ssh() { for _ in $(seq 60); do S true >/dev/null && return; sleep 5; done; }
has "the config boots the disk's own GRUB" "$(cat g.img.cfg)" 'boot = "c"'
boot deb1
ok "deb1 came up through GRUB's menu on the serial console" in_log deb1 "GNU GRUB  version"
wait_ssh
state=$(S 'systemctl is-system-running --wait')
one_of "ssh: systemctl is-system-running" "$state" "running degraded"
[ "$state" = degraded ] && echo "# failed units: $(S 'systemctl --failed --no-legend' | tr '\n' ' ')"
has "ssh: apt-get --version" "$(S 'apt-get --version')" "apt 2."
eq "ssh: hostname" "$(S hostname)" "deb1"
has "ssh: the root is the UUID's" "$(S 'findmnt -no SOURCE,FSTYPE /')" "ext4"
has "ssh: DHCP address from the NAT" "$(S 'ip -4 -o addr')" "10.0.2.15/24"
S 'systemctl poweroff' >/dev/null
ok "poweroff: the VM goes away" wait_gone deb1 300
ok "partition 1 copied out after poweroff" dd if=g.img of=p1 bs=1M skip=1 status=none conv=sparse
ok "clean filesystem after poweroff (e2fsck -fn)" e2fsck -fn p1
rm -f p1
boot deb2 bootloader=pygrub
fails "deb2 came up through pygrub, not GRUB's menu" 1 in_log deb2 "GNU GRUB  version"
wait_ssh
one_of "second boot: ssh, systemctl is-system-running" "$(S "systemctl is-system-running --wait")" "running degraded"
ok "destroy" vmkit destroy deb2
vm_finish
