/* libFuzzer entry point: how vmkit install reads an installer medium's
 * syslinux menus (guest/install_int.h: vk_menu_expand following include
 * and menu include lines, `menu begin` submenus) and ranks the entries
 * (vk_menu_rank).  The input is split at lines "----" into files
 * /f0.cfg, /f1.cfg ...; an include names one as "f1.cfg" or "/f1.cfg"
 * (anything else is missing); /f0.cfg is the menu. */
#include "guest/install_int.h"
#include "util/err.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXFILES 16

struct files {
    const char *p[MAXFILES];
    size_t len[MAXFILES];
    unsigned n;
};

static int f_index(const struct files *f, const char *path)
{
    unsigned i;
    char extra;
    if (*path == '/')
        path++;
    if (sscanf(path, "f%u.cfg%c", &i, &extra) != 1 || i >= f->n)
        return -1;
    return (int)i;
}

static int f_read(void *ctx, const char *path, size_t max, char **buf, size_t *len)
{
    const struct files *f = ctx;
    int i = f_index(f, path);
    if (i < 0)
        return vk_error(-ENOENT, "%s: no such file", path);
    if (f->len[i] > max)
        return vk_error(-EFBIG, "%s: too large", path);
    if (!(*buf = malloc(f->len[i] + 1)))
        return vk_error(-ENOMEM, "out of memory");
    memcpy(*buf, f->p[i], f->len[i]);
    (*buf)[f->len[i]] = 0;
    *len = f->len[i];
    return 0;
}

static int f_resolve(void *ctx, const char *cwd, const char *name, char *out, size_t len)
{
    (void)cwd;
    int i = f_index(ctx, name);
    if (i < 0)
        return -ENOENT;
    snprintf(out, len, "/f%d.cfg", i);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct files f = { .n = 0 };
    const char *p = (const char *)data, *end = p + size;
    while (f.n < MAXFILES) {
        const char *sep = memmem(p, (size_t)(end - p), "\n----\n", 6);
        f.p[f.n] = p;
        f.len[f.n++] = sep ? (size_t)(sep - p) : (size_t)(end - p);
        if (!sep)
            break;
        p = sep + 6;
    }
    struct vk_menu_io io = { f_read, f_resolve, &f };
    struct vk_mbuf text = { 0 };
    int files = 0;
    if (vk_menu_expand(&io, "/f0.cfg", "", 0, &files, &text) == 0) {
        struct vk_bootcfg c;
        if (vk_bootcfg_parse(VK_BOOTCFG_EXTLINUX, text.text ? text.text : "", text.len, "fuzz",
                             NULL, &c) == 0) {
            for (unsigned i = 0; i < c.n; i++)
                vk_menu_rank(&c, i);
            vk_bootcfg_free(&c);
        }
    }
    free(text.text);
    vk_error_clear();
    return 0;
}
