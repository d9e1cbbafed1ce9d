#!/bin/bash
# vmkit guest seed, for real (make check-debian, with t_guest_debian.sh: too
# long for the CI budget; not in .ci/run).  A full Debian guest with
# cloud-init in --packages and NO key of vmkit's own is booted under
# `vmkit create` (TCG) with a NoCloud seed from `vmkit guest seed` as its
# CD-ROM.  What only cloud-init can have done is then checked: ssh as the
# user that user-data creates, with the key that only user-data holds, gives
# the meta-data's hostname; `cloud-init status` says done and names the
# NoCloud datasource on the seed; the runcmd marker reached the serial
# console; write_files wrote its file.  `poweroff` leaves a clean
# filesystem (e2fsck -fn).  Checked with blkid, xorriso, ssh, e2fsck.
# Prints the build time and the times to the login prompt and to
# cloud-init's marker.
. "$(dirname "$0")/../lib.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)   # lib.sh takes tests/ for the top from here
. "$TOP/tests/vm_lib.sh"
need mmdebstrap ssh ssh-keygen e2fsck blkid xorriso || { finish; exit; }
BOOT_SECS=${BOOT_SECS:-1500}   # TCG on a loaded 2-core host: minutes
CI_USER=${CI_USER:-cloudy}     # the user-data's user (break it to see the test fail)

freeport() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ssh-keygen -q -t ed25519 -N '' -C vmkit-cloudinit -f key >/dev/null 2>&1
t0=$(date +%s)
# No --ssh-key: the only key the guest will know is the seed's.  sshd and
# sudo come as packages, as a cloud image has them.  GUEST_IMG=FILE (to
# iterate on the boot half): a pristine copy of the built image is kept
# there, and used instead of a build when it exists.
if [ -n "${GUEST_IMG:-}" ] && [ -f "$GUEST_IMG" ]; then
    ok "the image from GUEST_IMG ($GUEST_IMG), not built" cp --sparse=always "$GUEST_IMG" g.img
else
    ok "guest build --distro debian with cloud-init in --packages, no key" \
        vmkit guest build -q --distro debian --hostname built \
        --packages cloud-init,openssh-server,sudo g.img
    echo "# build: $(( $(date +%s) - t0 )) s"
    [ -n "${GUEST_IMG:-}" ] && [ -f g.img ] && cp --sparse=always g.img "$GUEST_IMG"
fi
[ -f g.img ] || { vm_finish; exit 1; }

ok "partition 1 copied out" dd if=g.img of=p1 bs=1M skip=1 status=none conv=sparse
dbg() { debugfs -R "$1" p1 2>/dev/null; }
has "cloud-init is installed" "$(dbg 'ls -p /usr/bin')" "/cloud-init/"
none "no authorized_keys for root in the image" sh -c "debugfs -R 'cat /root/.ssh/authorized_keys' p1 2>/dev/null"
none "no $CI_USER in the image's passwd" sh -c "debugfs -R 'cat /etc/passwd' p1 2>/dev/null | grep '^$CI_USER:' || true"
rm -f p1

pub=$(cat key.pub)
# locale: Debian's cloud-init sets en_US.UTF-8 by default, which a minbase
# image (no locales package) cannot generate: its locale module fails and
# cloud-init status says error.  C.UTF-8 is built into glibc.
cat >user-data <<EOF
#cloud-config
users:
  - name: $CI_USER
    sudo: ALL=(ALL) NOPASSWD:ALL
    shell: /bin/bash
    ssh_authorized_keys:
      - $pub
locale: C.UTF-8
write_files:
  - path: /etc/vmkit-seed-test
    content: "written by cloud-init from the vmkit seed\n"
runcmd:
  - [ sh, -c, "echo CLOUD-INIT-RAN \$(hostname) > /dev/ttyS0" ]
EOF
printf 'instance-id: vmkit-ci-0001\nlocal-hostname: ci-host\n' >meta-data
ok "guest seed" vmkit guest seed --user-data user-data --meta-data meta-data seed.iso
eq "seed: blkid LABEL" "$(blkid -o value -s LABEL seed.iso)" "cidata"
eq "seed: blkid TYPE" "$(blkid -o value -s TYPE seed.iso)" "iso9660"
ls=$(xorriso -indev seed.iso -ls / 2>/dev/null)
has "seed: xorriso sees user-data" "$ls" "'user-data'"
has "seed: xorriso sees meta-data" "$ls" "'meta-data'"
ok "seed: user-data read back by xorriso" sh -c \
    "xorriso -osirrox on -indev seed.iso -extract /user-data ud.out >/dev/null 2>&1 && cmp ud.out user-data"

port=$(freeport)
cat >ci.cfg <<EOF
name = "ci1"
memory = 512
vcpus = 1
boot = "c"
disk = [ 'format=raw, vdev=xvda, access=rw, target=$T/g.img',
         'format=raw, vdev=hdc, access=ro, devtype=cdrom, target=$T/seed.iso' ]
vif = [ 'type=user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$port-:22' ]
serial = "pty"
vnc = 0
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "destroy"
EOF
b0=$(date +%s)
ok "create ci1: the disk, the seed as a CD-ROM, a hostfwd port" vmkit create ci.cfg
has "QEMU has the seed as a CD-ROM" "$(qblock ci1)" "seed.iso ro=True"
# The login prompt names the host: cloud-init sets it before the getty runs
# (or the getty shows the image's, and the marker check below tells).
wait_log ci1 " login:" 1 "$BOOT_SECS"
ok "ci1: login prompt on the serial console" in_log ci1 " login:"
echo "# login prompt after $(( $(date +%s) - b0 )) s"
wait_log ci1 "CLOUD-INIT-RAN" 1 "$BOOT_SECS"
ok "runcmd's marker on the serial console, with the seed's hostname" in_log ci1 "CLOUD-INIT-RAN ci-host"
echo "# cloud-init's runcmd after $(( $(date +%s) - b0 )) s"

S() { timeout 120 ssh -i key -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no -o LogLevel=ERROR \
        -o UserKnownHostsFile=/dev/null -o ConnectTimeout=30 "$CI_USER@127.0.0.1" "$@" 2>&1; }
# until sshd answers (cloud-init has made its host keys by the marker);
# a refusal is an answer too
wait_ssh() {
    for _ in $(seq 60); do
        _o=$(S true) && return
        case $_o in *"Permission denied"*) return ;; esac
        sleep 5
    done
}
wait_ssh
# nothing below can be asked without this login (the EXIT trap destroys the VM)
eq "ssh as $CI_USER with the seed's key: hostname" "$(S hostname)" "ci-host" || { vm_finish; exit 1; }
st=$(S 'timeout 600 cloud-init status --wait --long')
has "cloud-init status: done" "$st" "status: done"
has "cloud-init's datasource: NoCloud on the seed" "$(S 'cat /run/cloud-init/status.json')" "DataSourceNoCloud"
eq "the instance-id is the seed's" "$(S 'cat /var/lib/cloud/data/instance-id')" "vmkit-ci-0001"
eq "the hostname took effect (/etc/hostname)" "$(S 'cat /etc/hostname')" "ci-host"
has "user-data's locale (/etc/default/locale)" "$(S 'cat /etc/default/locale')" "LANG=C.UTF-8"
eq "write_files' file" "$(S 'cat /etc/vmkit-seed-test')" "written by cloud-init from the vmkit seed"
eq "user-data's sudo rule: passwordless sudo" "$(S 'sudo -n id -u')" "0"
has "the guest sees the seed (blkid)" "$(S 'sudo -n blkid -t LABEL=cidata')" 'TYPE="iso9660"'
S 'sudo -n systemctl poweroff' >/dev/null
ok "poweroff: the VM goes away" wait_gone ci1 300
ok "partition 1 copied out after poweroff" dd if=g.img of=p1 bs=1M skip=1 status=none conv=sparse
ok "clean filesystem after poweroff (e2fsck -fn)" e2fsck -fn p1
rm -f p1
vm_finish
