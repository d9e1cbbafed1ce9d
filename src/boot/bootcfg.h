/* Boot configuration readers: GRUB2 grub.cfg (with the Boot Loader
 * Specification entries its `blscfg` command reads, and the grubenv that
 * `load_env` reads), GRUB legacy menu.lst and extlinux/syslinux, one file
 * each, behind one small interface.
 *
 * A config is parsed, never executed: GRUB2 `if` conditions are not
 * evaluated (the commands of every branch are read in order, so the last
 * `set default=` wins, as pygrub does), functions are skipped, `search`,
 * `insmod` and anything else unknown are ignored.
 *
 * The default entry follows the boot loader's own rules (what the disk
 * boots natively), see vk_bootcfg_select.
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

/* One menu entry; GRUB2 submenus are entries too (submenu set, no
 * kernel), so positions count as GRUB counts them: a submenu is one entry
 * of the menu holding it. */
struct vk_boot_entry {
    char *title;     /* GRUB2 submenu entries: "Advanced options>Debian ..." */
    char *label;     /* its own title in its menu ("Debian ...") */
    char *path;      /* "3", or "1>2" inside a submenu: what --entry=N names */
    char *id;        /* GRUB2 --id / $menuentry_id_option ids, "sub-id>entry-id"; NULL if none */
    char *own_id;    /* its own id in its menu, NULL if none */
    int parent;      /* index of the submenu holding it, -1: the top menu */
    unsigned pos;    /* position in that menu, from 0 */
    bool submenu;    /* a GRUB2 submenu: boots nothing itself */
    char *other;     /* not a Linux entry: what it boots instead ("memtest86+
                      * (/boot/memtest86+x64.bin)", "the Xen hypervisor
                      * (multiboot2 /boot/xen.gz)", "chainloader +1"); NULL */
    char *kernel;    /* path inside the filesystem, device prefix removed; NULL if none */
    char *initrd;    /* initrd path(s), several newline-separated (GRUB2 concatenates them); NULL if none */
    char *args;      /* kernel arguments, "" if none */
    int root_part;   /* GRUB legacy root (hd0,N) / GRUB2 (hd0,msdosN): 1-based partition; 0 unknown */
    char *loop;      /* GRUB2 `loopback`: the image file (a path in this
                      * filesystem) that kernel and initrd are read from, as
                      * a multi-ISO USB key boots an ISO; NULL: this filesystem */
};

struct vk_bootcfg {
    struct vk_boot_entry *e;
    unsigned n;
    char *def;       /* the default as written ("0", "1>2", a title), NULL: first */
};

/* One Boot Loader Specification entry file (/boot/loader/entries/X.conf). */
struct vk_bls_file {
    const char *name;        /* file name, "X.conf": its id is "X" */
    const char *text;        /* contents, len bytes (need not be NUL-terminated) */
    size_t len;
};

/* What a config reads besides itself; every part may be absent. */
struct vk_bootcfg_env {
    /* GRUB2: the grubenv block `load_env` reads (saved_entry=, kernelopts=);
     * GRUB legacy: the `default` file `default saved` reads. */
    const char *saved;
    size_t saved_len;
    /* GRUB2: the entries `blscfg` turns into menu entries (any order). */
    const struct vk_bls_file *bls;
    unsigned n_bls;
};

/* Which reader handles a config file at path ("/boot/grub/grub.cfg"),
 * or -1 if none. */
int vk_bootcfg_kind_for_path(const char *path);

/* Parse text (len bytes, need not be NUL-terminated) into *out (free with
 * vk_bootcfg_free).  env (may be NULL) gives the saved default and BLS
 * entries, bounded as the config is.  name prefixes messages.  A config
 * with no bootable entry fails with -ENOENT. */
int vk_bootcfg_parse(enum vk_bootcfg_kind kind, const char *text, size_t len,
                     const char *name, const struct vk_bootcfg_env *env,
                     struct vk_bootcfg *out);

/* The entry to boot: sel (from --entry=) if non-NULL, else the config's
 * default, resolved as GRUB resolves `default`: '>' separates the menu
 * levels ("1>2", "Advanced options for Debian>Debian, with Linux 6.1",
 * ids alike; ">>" is a literal '>'), and each part is a position (a
 * number, strtoul base 0, a submenu counting as one entry) or a title or
 * id of that menu.  An explicit sel may also be an entry's full title or
 * id path or, as Xen's pygrub allows, the title of an entry inside a
 * submenu.  A default that names no entry falls back to the first entry,
 * as GRUB does (with a vk_warn() when it was not empty); an explicit sel
 * that names nothing fails with -ENOENT.  An entry that is a submenu, or
 * boots something other than a Linux kernel (memtest86+, a Xen or other
 * multiboot kernel, a chainloader, a syslinux module), or has no kernel,
 * is refused with -ENOENT naming it: never replaced by another entry. */
int vk_bootcfg_select(const struct vk_bootcfg *c, const char *sel, const char *name,
                      const struct vk_boot_entry **out);

void vk_bootcfg_free(struct vk_bootcfg *c);

/* Per-syntax readers (grub2.c, grub_legacy.c, extlinux.c); text (and
 * env->saved) are NUL-terminated and already checked for size and NUL
 * bytes; env is never NULL. */
int vk_bootcfg_grub2(const char *text, const char *name, const struct vk_bootcfg_env *env,
                     struct vk_bootcfg *out);
int vk_bootcfg_grub_legacy(const char *text, const char *name, const struct vk_bootcfg_env *env,
                           struct vk_bootcfg *out);
int vk_bootcfg_extlinux(const char *text, const char *name, struct vk_bootcfg *out);

/* Helpers shared by the readers (bootcfg.c). */
/* A new entry at position pos of the menu of entry parent (-1: top),
 * zeroed but for those two; NULL after vk_error when over
 * VK_BOOTCFG_ENTRIES or out of memory. */
struct vk_boot_entry *vk_bootcfg_add(struct vk_bootcfg *c, const char *name, int parent,
                                     unsigned pos);
/* Record that e boots something other than Linux ("what"), if nothing was
 * recorded before.  0 or -ENOMEM. */
int vk_bootcfg_other(struct vk_boot_entry *e, const char *what, const char *path);
/* What a kernel path boots when it is not Linux by its name (memtest86+,
 * a syslinux .c32 module, Xen), or NULL. */
const char *vk_bootcfg_not_linux(const char *kernel);
/* Strip a GRUB device prefix "(hd0,msdos1)/vmlinuz" -> "/vmlinuz"; sets
 * *part when the device names a partition.  Returns a malloc'd copy. */
char *vk_bootcfg_devpath(const char *p, int *part);
/* Append word to *s with a space (malloc'd, grows); -ENOMEM on failure. */
int vk_bootcfg_append(char **s, const char *word);

#endif
