/* Boot configuration readers: GRUB2 grub.cfg, GRUB legacy menu.lst and
 * extlinux/syslinux, one file each, behind one small interface.
 *
 * A config is parsed, never executed: GRUB2 `if` conditions are not
 * evaluated (the commands of every branch are read in order, so the last
 * `set default=` wins, as pygrub does), functions are skipped, `search`,
 * `insmod`, `load_env` and anything else unknown are ignored.
 *
 * Bounds: input larger than VK_BOOTCFG_MAX or holding a NUL byte is
 * refused; at most VK_BOOTCFG_ENTRIES entries, submenus nest at most 8
 * deep, variables expand to at most VK_BOOTCFG_WORD bytes.
 *
 * All int functions return 0 or a negative errno after vk_error() with a
 * message that starts with the name passed in ("disk:1:/boot/grub/grub.cfg
 * line 12: ..."). */
#ifndef VK_BOOT_BOOTCFG_H
#define VK_BOOT_BOOTCFG_H

#include <stdbool.h>
#include <stddef.h>

#define VK_BOOTCFG_MAX     (1u << 20)
#define VK_BOOTCFG_ENTRIES 1024
#define VK_BOOTCFG_WORD    4096

enum vk_bootcfg_kind { VK_BOOTCFG_GRUB2, VK_BOOTCFG_GRUB_LEGACY, VK_BOOTCFG_EXTLINUX };

struct vk_boot_entry {
    char *title;     /* GRUB2 submenu entries: "Advanced options>Debian ..." */
    char *path;      /* "3", or "1>2" inside a submenu: what --entry=N names */
    char *id;        /* GRUB2 --id / $menuentry_id_option ids, "sub-id>entry-id"; NULL if none */
    char *kernel;    /* path inside the filesystem, device prefix removed; NULL if none */
    char *initrd;    /* initrd path(s), several newline-separated (GRUB2 concatenates them); NULL if none */
    char *args;      /* kernel arguments, "" if none */
    int root_part;   /* GRUB legacy root (hd0,N) / GRUB2 (hd0,msdosN): 1-based partition; 0 unknown */
};

struct vk_bootcfg {
    struct vk_boot_entry *e;
    unsigned n;
    char *def;       /* the default as written ("0", "1>2", a title), NULL: first */
};

/* Which reader handles a config file at path ("/boot/grub/grub.cfg"),
 * or -1 if none. */
int vk_bootcfg_kind_for_path(const char *path);

/* Parse text (len bytes, need not be NUL-terminated) into *out (free with
 * vk_bootcfg_free).  name prefixes messages.  A config with no bootable
 * entry fails with -ENOENT. */
int vk_bootcfg_parse(enum vk_bootcfg_kind kind, const char *text, size_t len,
                     const char *name, struct vk_bootcfg *out);

/* The entry to boot: sel (from --entry=) if non-NULL, else the config's
 * default.  A number or "N>M" path names by position, anything else by
 * title or GRUB2 id (the whole submenu path or its last part).  A default that names
 * nothing falls back to entry 0 (GRUB's saved_entry behaviour); an
 * explicit sel that names nothing fails with -ENOENT. */
int vk_bootcfg_select(const struct vk_bootcfg *c, const char *sel, const char *name,
                      const struct vk_boot_entry **out);

void vk_bootcfg_free(struct vk_bootcfg *c);

/* Per-syntax readers (grub2.c, grub_legacy.c, extlinux.c); text is
 * NUL-terminated and already checked for size and NUL bytes. */
int vk_bootcfg_grub2(const char *text, const char *name, struct vk_bootcfg *out);
int vk_bootcfg_grub_legacy(const char *text, const char *name, struct vk_bootcfg *out);
int vk_bootcfg_extlinux(const char *text, const char *name, struct vk_bootcfg *out);

/* Helpers shared by the readers (bootcfg.c). */
struct vk_boot_entry *vk_bootcfg_add(struct vk_bootcfg *c, const char *name);
/* Strip a GRUB device prefix "(hd0,msdos1)/vmlinuz" -> "/vmlinuz"; sets
 * *part when the device names a partition.  Returns a malloc'd copy. */
char *vk_bootcfg_devpath(const char *p, int *part);
/* Append word to *s with a space (malloc'd, grows); -ENOMEM on failure. */
int vk_bootcfg_append(char **s, const char *word);

#endif
