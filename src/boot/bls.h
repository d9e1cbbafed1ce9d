/* Boot Loader Specification entry files, for GRUB2's blscfg (grub2.c). */
#ifndef VK_BOOT_BLS_H
#define VK_BOOT_BLS_H

#include "boot/bootcfg.h"

struct vk_bls_entry {
    char *id;        /* the file name without ".conf" */
    char *title, *version, *linux;   /* as written; NULL when absent */
    char *initrd;    /* every initrd path, newline-separated; NULL if none */
    char *options;   /* every options line, space-joined, unexpanded; NULL if none */
};

/* Parse the n files (each bounded as a config is: VK_BOOTCFG_MAX bytes, no
 * NUL) into *out, n entries sorted as blscfg sorts its menu: by version,
 * newest first (rpm's comparison), then by id.  0 or a negative errno
 * naming the file; free with vk_bls_free. */
int vk_bls_parse(const struct vk_bls_file *files, unsigned n, const char *name,
                 struct vk_bls_entry **out);
void vk_bls_free(struct vk_bls_entry *v, unsigned n);

#endif
