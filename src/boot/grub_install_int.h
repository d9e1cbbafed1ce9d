/* Shared between the grub_install*.c files; not part of the library's
 * interface (that is boot/grub_install.h). */
#ifndef VK_BOOT_GRUB_INSTALL_INT_H
#define VK_BOOT_GRUB_INSTALL_INT_H

#include "boot/grub_install.h"

#define VK_GRUB_DIR_DEFAULT "/usr/lib/grub/i386-pc"

/* The largest core image accepted: the gap before a partition at 1 MiB,
 * 2047 sectors (GRUB's diskboot loads at most ~450 KiB anyway).  A gap
 * this size holds any core image vmkit builds. */
#define VK_GRUB_CORE_MAX ((1u << 20) - 512)

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

/* Read the host file path (at most max bytes) into a malloc'd buffer,
 * zero-padded to a whole number of sectors. */
int vk_grub_read_host(const char *path, size_t max, uint8_t **data, size_t *len);
/* The same into *buf (*cap bytes, grown with realloc as needed; NULL/0 to
 * start), so that a loop over many files reuses one buffer: a fresh
 * allocation per file costs page faults (vk_grub_read_host for modules
 * was a fifth of install-grub).  *buf stays the caller's on failure. */
int vk_grub_read_host_into(const char *path, size_t max, uint8_t **buf, size_t *cap,
                           size_t *len);

#endif
