/* What an ISO boots, from its own menu (contract in boot/isomenu.h). */
#include "boot/isomenu.h"

#include "boot/bootcfg.h"
#include "fs/iso9660.h"
#include "fs/path.h"
#include "util/err.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const grub_cfgs[] = {
    "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/EFI/BOOT/grub.cfg", NULL,
};
static const char *const syslinux_cfgs[] = {
    "/isolinux/isolinux.cfg", "/boot/isolinux/isolinux.cfg", "/isolinux.cfg",
    "/syslinux/syslinux.cfg", "/boot/syslinux/syslinux.cfg", "/syslinux.cfg", NULL,
};

/* The ISO and the index of its regular files ("/a/b", normalized). */
struct iso {
    const char *path, *name;
    const void *mem;
    size_t len;
    char **files;
    size_t n;
};

/* vk_iso_pread_fn over the ISO file (ctx: its descriptor, and s). */
struct iso_file {
    int fd;
    const struct iso *s;
};

static int file_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
    const struct iso_file *f = ctx;
    ssize_t n = pread(f->fd, buf, len, (off_t)off);
    if (n == (ssize_t)len)
        return 0;
    return vk_error(n < 0 ? -errno : -EIO, "%s: %s", f->s->name, n < 0 ? strerror(errno)
                    : "unexpected end of file");
}

static int mem_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
    const struct iso *s = ctx;
    if (off > s->len || len > s->len - off)
        return vk_error(-EIO, "%s: unexpected end of image", s->name);
    memcpy(buf, (const uint8_t *)s->mem + off, len);
    return 0;
}

/* The descriptors libarchive is about to trust, checked first (see
 * vk_iso_check_descriptors). */
static int check_descriptors(const struct iso *s)
{
    if (!s->path)
        return vk_iso_check_descriptors(mem_pread, (void *)s, s->len, s->name);
    struct iso_file f = { .fd = open(s->path, O_RDONLY | O_CLOEXEC), .s = s };
    struct stat st;
    if (f.fd < 0 || fstat(f.fd, &st) < 0) {
        int r = vk_error(-errno, "%s: %s", s->name, strerror(errno));
        if (f.fd >= 0)
            close(f.fd);
        return r;
    }
    int r = vk_iso_check_descriptors(file_pread, &f, (uint64_t)st.st_size, s->name);
    close(f.fd);
    return r;
}

static int iso_open(const struct iso *s, struct archive **out)
{
    struct archive *a = archive_read_new();
    if (!a)
        return vk_error(-ENOMEM, "out of memory");
    archive_read_support_format_iso9660(a);
    int r = s->path ? archive_read_open_filename(a, s->path, 64 * 1024)
                    : archive_read_open_memory(a, s->mem, s->len);
    if (r != ARCHIVE_OK) {
        r = vk_error(-EINVAL, "%s: not a readable ISO 9660 image: %s", s->name,
                     archive_error_string(a) ? archive_error_string(a) : "unknown error");
        archive_read_free(a);
        return r;
    }
    *out = a;
    return 0;
}

/* The entry's name as an absolute normalized path; false if unusable. */
static bool entry_path(struct archive_entry *e, char *buf, size_t len)
{
    const char *p = archive_entry_pathname(e);
    return p && *p && vk_path_normalize(p, buf, len) > 0;
}

/* The size of the ISO file at path, 0 if it cannot be read (the open
 * that follows reports why). */
static uint64_t iso_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int index_iso(struct iso *s)
{
    struct archive *a;
    int r = check_descriptors(s), ar;
    if (r < 0 || (r = iso_open(s, &a)) < 0)
        return r;
    struct archive_entry *e;
    size_t cap = 0;
    uint64_t entries = 0, limit = vk_iso_entry_limit(s->path ? iso_size(s->path) : s->len);
    while (r == 0 && (ar = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
        if (ar < ARCHIVE_WARN) {
            r = vk_error(-EINVAL, "%s: not a readable ISO 9660 image: %s", s->name,
                         archive_error_string(a) ? archive_error_string(a) : "unknown error");
            break;
        }
        if (++entries > limit) {
            r = vk_error(-EINVAL, "%s: more directory entries than the image has room for "
                         "(a directory tree that repeats itself)", s->name);
            break;
        }
        char p[4096];
        if (archive_entry_filetype(e) != AE_IFREG || !entry_path(e, p, sizeof p)) {
            vk_error_clear();
            continue;
        }
        if (s->n >= VK_ISOMENU_FILES) {
            r = vk_error(-E2BIG, "%s: more than %d files", s->name, VK_ISOMENU_FILES);
            break;
        }
        if (s->n == cap) {
            cap = cap ? cap * 2 : 256;
            char **nf = realloc(s->files, cap * sizeof *nf);
            if (!nf) {
                r = vk_error(-ENOMEM, "out of memory");
                break;
            }
            s->files = nf;
        }
        if (!(s->files[s->n] = strdup(p)))
            r = vk_error(-ENOMEM, "out of memory");
        else
            s->n++;
    }
    archive_read_free(a);
    return r;
}

/* The ISO's own name of path: exact, else the first that differs only in
 * case (plain ISO 9660 names, which GRUB also matches without case). */
static const char *find(const struct iso *s, const char *path)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->files[i], path))
            return s->files[i];
    for (size_t i = 0; i < s->n; i++)
        if (!strcasecmp(s->files[i], path))
            return s->files[i];
    return NULL;
}

/* Read the file path (as found() names it) whole, at most max bytes. */
static int read_file(const struct iso *s, const char *path, size_t max, char **out, size_t *olen)
{
    struct archive *a;
    int r = iso_open(s, &a), ar;
    if (r < 0)
        return r;
    r = -ENOENT;
    struct archive_entry *e;
    while ((ar = archive_read_next_header(a, &e)) != ARCHIVE_EOF && ar >= ARCHIVE_WARN) {
        char p[4096];
        if (archive_entry_filetype(e) != AE_IFREG || !entry_path(e, p, sizeof p) ||
            strcmp(p, path)) {
            vk_error_clear();
            continue;
        }
        int64_t sz = archive_entry_size(e);
        if (sz < 0 || (uint64_t)sz > max) {
            r = vk_error(-EFBIG, "%s:%s: larger than %zu bytes", s->name, path, max);
            break;
        }
        char *buf = malloc((size_t)sz + 1);
        if (!buf) {
            r = vk_error(-ENOMEM, "out of memory");
            break;
        }
        la_ssize_t n = archive_read_data(a, buf, (size_t)sz);
        if (n < 0 || n != sz) {
            free(buf);
            r = vk_error(-EIO, "%s:%s: cannot read: %s", s->name, path,
                         n < 0 && archive_error_string(a) ? archive_error_string(a) : "short read");
            break;
        }
        buf[n] = '\0';
        *out = buf;
        *olen = (size_t)n;
        r = 0;
        break;
    }
    if (r == -ENOENT)
        r = vk_error(-ENOENT, "%s:%s: cannot be read", s->name, path);
    archive_read_free(a);
    return r;
}

/* p (relative to dir when not absolute) as the ISO names it, or NULL. */
static const char *resolve(const struct iso *s, const char *dir, const char *p)
{
    char joined[4096], full[4096];
    if (snprintf(joined, sizeof joined, "%s/%s", p[0] == '/' ? "" : dir, p) >= (int)sizeof joined ||
        vk_path_normalize(joined, full, sizeof full) <= 0) {
        vk_error_clear();
        return NULL;
    }
    return find(s, full);
}

/* "include FILE" or "menu include FILE [title]": FILE, else NULL. */
static char *include_of(char *line)
{
    char *p = line + strspn(line, " \t");
    if (!strncasecmp(p, "menu", 4) && (p[4] == ' ' || p[4] == '\t'))
        p += 4 + strspn(p + 4, " \t");
    if (strncasecmp(p, "include", 7) || (p[7] != ' ' && p[7] != '\t'))
        return NULL;
    p += 7 + strspn(p + 7, " \t");
    p[strcspn(p, " \t\r")] = '\0';
    return *p ? p : NULL;
}

/* The syslinux config at path with its INCLUDEs expanded in place
 * (relative to dir, the config's directory as syslinux resolves them),
 * appended to *buf. */
static int expand(const struct iso *s, const char *path, const char *dir, int depth,
                  char **buf, size_t *len)
{
    if (depth > 8)
        return vk_error(-ELOOP, "%s:%s: includes nest more than 8 deep", s->name, path);
    char *text = NULL;
    size_t tl = 0;
    int r = read_file(s, path, VK_BOOTCFG_MAX, &text, &tl);
    for (char *line = text, *next; r == 0 && line && line < text + tl; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *inc = include_of(line);
        if (inc) {
            /* a missing include is skipped, as syslinux does */
            const char *f = resolve(s, dir, inc);
            if (f)
                r = expand(s, f, dir, depth + 1, buf, len);
            continue;
        }
        size_t ll = strlen(line);
        if (*len + ll + 2 > VK_BOOTCFG_MAX) {
            r = vk_error(-EFBIG, "%s:%s: larger than %u bytes with its includes", s->name,
                         path, VK_BOOTCFG_MAX);
            break;
        }
        char *nb = realloc(*buf, *len + ll + 2);
        if (!nb) {
            r = vk_error(-ENOMEM, "out of memory");
            break;
        }
        *buf = nb;
        memcpy(*buf + *len, line, ll);
        *len += ll;
        (*buf)[(*len)++] = '\n';
        (*buf)[*len] = '\0';
    }
    free(text);
    return r;
}

/* Fill out from entry e when its kernel and initrds are files of the ISO:
 * 1; 0 when they are not; <0 on error. */
static int take(const struct iso *s, const char *cfg, const char *dir,
                const struct vk_boot_entry *e, struct vk_isomenu *out)
{
    if (e->submenu || e->other || !e->kernel)
        return 0;
    const char *k = resolve(s, dir, e->kernel);
    if (!k)
        return 0;
    char *rd = NULL;
    if (e->initrd) {
        char *copy = strdup(e->initrd), *save = NULL;
        if (!copy)
            return vk_error(-ENOMEM, "out of memory");
        for (char *w = strtok_r(copy, "\n", &save); w; w = strtok_r(NULL, "\n", &save)) {
            const char *f = resolve(s, dir, w);
            size_t ol = rd ? strlen(rd) : 0;
            char *nrd = f ? realloc(rd, ol + strlen(f) + 2) : NULL;
            if (!nrd) {
                free(copy);
                free(rd);
                return f ? vk_error(-ENOMEM, "out of memory") : 0;
            }
            rd = nrd;
            snprintf(rd + ol, strlen(f) + 2, "%s%s", ol ? "\n" : "", f);
        }
        free(copy);
    }
    out->config = strdup(cfg);
    out->title = strdup(e->title ? e->title : e->label ? e->label : "");
    out->kernel = strdup(k);
    out->initrd = rd;
    out->args = strdup(e->args ? e->args : "");
    if (!out->config || !out->title || !out->kernel || !out->args) {
        vk_isomenu_free(out);
        return vk_error(-ENOMEM, "out of memory");
    }
    return 1;
}

/* One config: 1 when it gave an entry, 0 when it has none (why, when it
 * could not be read or parsed, goes to why if that is still empty), <0
 * error. */
static int try_config(const struct iso *s, const char *cfg, bool grub, struct vk_isomenu *out,
                      char *why, size_t whylen)
{
    char *text = NULL, where[4200], dir[4096];
    size_t len = 0;
    snprintf(dir, sizeof dir, "%s", cfg);
    *strrchr(dir, '/') = '\0';
    snprintf(where, sizeof where, "%s:%s", s->name, cfg);
    int r = grub ? read_file(s, cfg, VK_BOOTCFG_MAX, &text, &len) : expand(s, cfg, dir, 0, &text, &len);
    struct vk_bootcfg c = { 0 };
    if (r == 0)
        r = vk_bootcfg_parse(grub ? VK_BOOTCFG_GRUB2 : VK_BOOTCFG_EXTLINUX, text ? text : "",
                             len, where, NULL, &c);
    free(text);
    if (r < 0) {
        vk_bootcfg_free(&c);
        if (r == -ENOMEM)
            return r;
        if (!*why)
            snprintf(why, whylen, "; %s", vk_errmsg());
        vk_error_clear();
        return 0;                       /* try the next config */
    }
    const struct vk_boot_entry *def = NULL;
    if (vk_bootcfg_select(&c, NULL, where, &def) == 0)
        r = take(s, cfg, grub ? "" : dir, def, out);
    vk_error_clear();
    for (unsigned i = 0; r == 0 && i < c.n; i++)
        r = take(s, cfg, grub ? "" : dir, &c.e[i], out);
    vk_bootcfg_free(&c);
    return r;
}

/* Contract in boot/isomenu.h. */
int vk_isomenu_read(const char *path, const void *mem, size_t len, const char *name,
                    struct vk_isomenu *out)
{
    memset(out, 0, sizeof *out);
    struct iso s = { .path = path, .name = name, .mem = mem, .len = len };
    char why[1024] = "";
    int r = index_iso(&s);
    for (int g = 1; r == 0 && g >= 0; g--)
        for (const char *const *c = g ? grub_cfgs : syslinux_cfgs; r == 0 && *c; c++) {
            const char *f = find(&s, *c);
            if (f) {
                char copy[4096];
                snprintf(copy, sizeof copy, "%s", f);
                r = try_config(&s, copy, g, out, why, sizeof why);
            }
        }
    for (size_t i = 0; i < s.n; i++)
        free(s.files[i]);
    free(s.files);
    if (r == 0)
        return vk_error(-ENOENT, "%s: no boot menu with a Linux entry whose kernel and initrd "
                        "are in the ISO (looked at /boot/grub/grub.cfg, /boot/grub2/grub.cfg, "
                        "/EFI/BOOT/grub.cfg, isolinux.cfg and syslinux.cfg in /, /isolinux, "
                        "/boot/isolinux, /syslinux, /boot/syslinux)%s", name, why);
    return r < 0 ? r : 0;
}

/* Contract in boot/isomenu.h. */
void vk_isomenu_free(struct vk_isomenu *m)
{
    free(m->config);
    free(m->title);
    free(m->kernel);
    free(m->initrd);
    free(m->args);
    memset(m, 0, sizeof *m);
}
