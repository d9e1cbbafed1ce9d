/* The files a vmkit guest boots with (guest_files.c). */
#ifndef VK_GUEST_GUEST_FILES_H
#define VK_GUEST_GUEST_FILES_H

/* No panic=N: the kernel's default (0) waits after a panic instead of
 * rebooting itself behind the monitor's back; the pvpanic driver the
 * initramfs loads tells QEMU, which stops the guest, and the monitor
 * applies on_crash. */
#define VK_GUEST_CMDLINE "root=/dev/vda1 console=ttyS0"

extern const char vk_guest_init[], vk_guest_inittab[], vk_guest_rcs[], vk_guest_profile[],
    vk_guest_acpi_power[], vk_guest_udhcpc[];

/* Debian-style grub.cfg booting /boot/vmlinuz-KVER; malloc'd, NULL on ENOMEM. */
char *vk_guest_grubcfg(const char *kver, const char *cmdline);

#endif
