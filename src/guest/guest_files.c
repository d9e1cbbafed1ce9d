/* The text files of a vmkit guest: initramfs /init, busybox inittab and rc
 * script, grub.cfg.  Kept apart from the builder so they read as what the
 * guest runs. */
#include "guest/guest_files.h"

#include <stdio.h>
#include <stdlib.h>

/* The initramfs: load the modules listed in /modules (dependency order),
 * mount the root root= names (rootfstype=9p: a 9p share's tag, with
 * rootflags=; otherwise a block device, waited for), and switch_root into
 * the busybox init there. */
const char vk_guest_init[] =
    "#!/bin/busybox sh\n"
    "/bin/busybox mkdir -p /proc /sys /dev /newroot /sbin /usr/bin /usr/sbin\n"
    "/bin/busybox mount -t proc proc /proc\n"
    "/bin/busybox --install -s\n"
    "export PATH=/bin:/sbin:/usr/bin:/usr/sbin\n"
    "mount -t sysfs sysfs /sys\n"
    "mount -t devtmpfs devtmpfs /dev\n"
    "for m in $(cat /modules); do insmod /lib/modules/$m.ko || echo \"vmkit initramfs: cannot load $m\"; done\n"
    "root=/dev/vda1 fstype=ext4 flags=rw\n"
    "for a in $(cat /proc/cmdline); do case $a in\n"
    "    root=*) root=${a#root=} ;; rootfstype=*) fstype=${a#rootfstype=} ;;\n"
    "    rootflags=*) flags=${a#rootflags=} ;; esac; done\n"
    "i=0\n"
    "while [ \"$fstype\" != 9p ] && [ ! -b \"$root\" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done\n"
    "if ! mount -t \"$fstype\" -o \"$flags\" \"$root\" /newroot; then\n"
    "    echo \"vmkit initramfs: cannot mount $root; a shell:\"\n"
    "    exec sh\n"
    "fi\n"
    "mount --move /dev /newroot/dev\n"
    "umount /sys /proc\n"
    "exec switch_root /newroot /sbin/init\n";

const char vk_guest_inittab[] =
    "# busybox init (vmkit guest)\n"
    "::sysinit:/etc/init.d/rcS\n"
    "ttyS0::respawn:-/bin/sh\n"
    "::ctrlaltdel:/sbin/poweroff\n"
    "::shutdown:/bin/umount -a -r\n";

const char vk_guest_rcs[] =
    "#!/bin/sh\n"
    "export PATH=/bin:/sbin:/usr/bin:/usr/sbin\n"
    "mount -t proc proc /proc\n"
    "mount -t sysfs sysfs /sys\n"
    "grep -q ' /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev\n"
    "mkdir -p /dev/pts /dev/shm\n"
    "mount -t devpts devpts /dev/pts\n"
    "mount -t tmpfs tmpfs /run\n"
    "mount -t tmpfs tmpfs /tmp\n"
    "mount -o remount,rw /\n"
    "hostname -F /etc/hostname\n"
    "ip link set lo up 2>/dev/null\n"
    "# the first NIC (virtio-net) by DHCP: QEMU's user-mode NAT answers at once\n"
    "# (10.0.2.15, gateway 10.0.2.2); give up after 3 s without a server\n"
    "if [ -e /sys/class/net/eth0 ]; then\n"
    "    ip link set eth0 up\n"
    "    udhcpc -i eth0 -n -q -t 3 -T 1 -s /etc/udhcpc.script 2>/run/udhcpc.log ||\n"
    "        echo 'vmkit guest: no DHCP answer on eth0'\n"
    "fi\n"
    "# the ACPI power button (button + evdev modules) powers off\n"
    "acpid -l /run/acpid.log -p /run/acpid.pid\n";

/* /etc/profile: the login shell on ttyS0 announces readiness only once it
 * is about to read commands, so whatever is typed after it is seen. */
const char vk_guest_profile[] =
    "export PATH=/bin:/sbin:/usr/bin:/usr/sbin\n"
    "export PS1='\\h:\\w# '\n"
    "echo \"vmkit guest $(hostname) ready\"\n"
    "echo VMKIT-READY\n";

const char vk_guest_acpi_power[] = "#!/bin/sh\n/sbin/poweroff\n";

/* busybox udhcpc calls this with $1 = deconfig|bound|renew and the lease
 * in $ip, $mask (prefix length), $router, $dns. */
const char vk_guest_udhcpc[] =
    "#!/bin/sh\n"
    "case $1 in\n"
    "deconfig)\n"
    "    ip addr flush dev $interface\n"
    "    ip link set $interface up ;;\n"
    "bound|renew)\n"
    "    ip addr flush dev $interface\n"
    "    ip addr add $ip/${mask:-24} dev $interface\n"
    "    for r in $router; do ip route add default via $r dev $interface; break; done\n"
    "    : >/etc/resolv.conf\n"
    "    for d in $dns; do echo \"nameserver $d\" >>/etc/resolv.conf; done\n"
    "    echo \"vmkit guest: $interface $ip/${mask:-24}\" ;;\n"
    "esac\n";

char *vk_guest_grubcfg(const char *kver, const char *cmdline)
{
    char *s = NULL;
    if (asprintf(&s,
                 "# Written by vmkit guest build, in the style of Debian's update-grub.\n"
                 "# Read by pygrub and, with GRUB in the MBR, by GRUB itself: its menu\n"
                 "# on the serial port and the screen.\n"
                 "serial --unit=0 --speed=115200\n"
                 "terminal_input serial console\n"
                 "terminal_output serial console\n"
                 "set default=\"0\"\n"
                 "set timeout=1\n"
                 "insmod part_msdos\n"
                 "insmod ext2\n"
                 "set root='hd0,msdos1'\n"
                 "menuentry 'Debian GNU/Linux (vmkit guest)' --class debian --class gnu-linux --class os {\n"
                 "\tinsmod gzio\n"
                 "\techo\t'Loading Linux %s ...'\n"
                 "\tlinux\t/boot/vmlinuz-%s %s\n"
                 "\techo\t'Loading initial ramdisk ...'\n"
                 "\tinitrd\t/boot/initrd.img-%s\n"
                 "}\n",
                 kver, kver, cmdline, kver) < 0)
        return NULL;
    return s;
}
