/* Internal to the installer runner (install*.c) and its fuzz entry point:
 * reading an installer medium (an ISO through the fs layer, or a host
 * directory) and its syslinux menus.  All int functions return 0 or a
 * negative errno after vk_error(). */
#ifndef VK_GUEST_INSTALL_INT_H
#define VK_GUEST_INSTALL_INT_H

#include "boot/bootcfg.h"

#include <stddef.h>
#include <stdint.h>

struct vk_blockdev;
struct vk_fs;

/* An installer medium: a directory, or an image mounted read-only. */
struct vk_media {
    const char *loc;        /* as given (borrowed) */
    int isdir;
    struct vk_blockdev *bd;
    struct vk_fs *fs;
};

/* Open location (a directory, or an image holding a filesystem vmkit
 * reads: an ISO).  Close with vk_media_close. */
int vk_media_open(const char *location, struct vk_media *m);
void vk_media_close(struct vk_media *m);

/* Read the file path (absolute in the medium) into a malloc'd
 * NUL-terminated buffer, refusing more than max bytes (-EFBIG). */
int vk_media_read(const struct vk_media *m, const char *path, size_t max, char **buf,
                  size_t *len);

/* Copy the file path to the host fd (named dst in messages) at offset
 * *total, which grows by the bytes copied; more than VK_INSTALL_FILE_MAX
 * in total is refused. */
int vk_media_copy(const struct vk_media *m, const char *path, int fd, const char *dst,
                  uint64_t *total);

/* A growing text buffer (text NUL-terminated once anything is in it). */
struct vk_mbuf { char *text; size_t len, cap; };

/* How a syslinux menu's files are read: read as vk_media_read; resolve
 * a name as an `include` line gives it (relative to cwd, else to the
 * root) into a normalized absolute path, -ENOENT when nothing is there. */
struct vk_menu_io {
    int (*read)(void *ctx, const char *path, size_t max, char **buf, size_t *len);
    int (*resolve)(void *ctx, const char *cwd, const char *name, char *out, size_t len);
    void *ctx;
};

/* Append the syslinux config path to out with its `include FILE` and
 * `menu include FILE` lines replaced by those files' text, recursively
 * (at most 8 deep and 64 files, VK_BOOTCFG_MAX bytes in all; a missing
 * include is left out, as syslinux skips it).  *files
 * counts the files read (start at 0; depth 0). */
int vk_menu_expand(const struct vk_menu_io *io, const char *path, const char *cwd, int depth,
                   int *files, struct vk_mbuf *out);

/* How good a choice entry i of an installer's menu is: -1 not an
 * installer (no kernel or initrd, a syslinux module, memtest); 4 the text
 * installer by name ("Install", label install); 3 the menu's default; 2
 * another entry; 1 a graphical, expert, rescue, speech, automated or
 * media-check entry. */
int vk_menu_rank(const struct vk_bootcfg *c, unsigned i);

#endif
