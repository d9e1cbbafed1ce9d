/* Shared between the grub_install*.c files; not part of the library's
 * interface (that is boot/grub_install.h). */
#ifndef VK_BOOT_GRUB_INSTALL_INT_H
#define VK_BOOT_GRUB_INSTALL_INT_H

#include "boot/grub_install.h"

#define VK_GRUB_DIR_DEFAULT "/usr/lib/grub/i386-pc"

/* A core image built by grub-mkimage (or taken from the cache). */
struct vk_grub_core {
    uint8_t *data;          /* malloc'd, padded to whole sectors */
    size_t len;
    bool cache_hit;
};

/* Build the i386-pc core image of modules (NULL-terminated) with the
 * embedded early config (NULL: none) and prefix, as grub-mkimage -O
 * i386-pc -d DIR -p PREFIX [-c CONFIG] MODULES... does, through the cache
 * of o (grub_install_core.c). */
int vk_grub_mkimage(const struct vk_grub_opts *o, const char *prefix, const char *config,
                    const char *const *modules, struct vk_grub_core *out);

/* Read the host file path (at most max bytes) into a malloc'd buffer. */
int vk_grub_read_host(const char *path, size_t max, uint8_t **data, size_t *len);

#endif
