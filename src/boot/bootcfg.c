/* The generic part of the boot configuration readers: dispatch by syntax,
 * input bounds, entry selection and small shared helpers. */
#include "boot/bootcfg.h"

#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int vk_bootcfg_kind_for_path(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (!strcmp(b, "grub.cfg"))
        return VK_BOOTCFG_GRUB2;
    if (!strcmp(b, "menu.lst") || !strcmp(b, "grub.conf"))
        return VK_BOOTCFG_GRUB_LEGACY;
    if (!strcmp(b, "extlinux.conf") || !strcmp(b, "syslinux.cfg"))
        return VK_BOOTCFG_EXTLINUX;
    return -1;
}

void vk_bootcfg_free(struct vk_bootcfg *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        free(c->e[i].title);
        free(c->e[i].path);
        free(c->e[i].id);
        free(c->e[i].kernel);
        free(c->e[i].initrd);
        free(c->e[i].args);
    }
    free(c->e);
    free(c->def);
    memset(c, 0, sizeof *c);
}

int vk_bootcfg_parse(enum vk_bootcfg_kind kind, const char *text, size_t len,
                     const char *name, struct vk_bootcfg *out)
{
    memset(out, 0, sizeof *out);
    if (len > VK_BOOTCFG_MAX)
        return vk_error(-EFBIG, "%s: boot configuration too large (%zu bytes, at most %u)",
                        name, len, VK_BOOTCFG_MAX);
    if (memchr(text, '\0', len))
        return vk_error(-EINVAL, "%s: binary data (NUL byte at offset %zu), not a boot configuration",
                        name, (size_t)((const char *)memchr(text, '\0', len) - text));
    char *t = malloc(len + 1);
    if (!t)
        return vk_error(-ENOMEM, "%s: out of memory", name);
    memcpy(t, text, len);
    t[len] = '\0';
    int r;
    switch (kind) {
    case VK_BOOTCFG_GRUB2:        r = vk_bootcfg_grub2(t, name, out); break;
    case VK_BOOTCFG_GRUB_LEGACY:  r = vk_bootcfg_grub_legacy(t, name, out); break;
    case VK_BOOTCFG_EXTLINUX:     r = vk_bootcfg_extlinux(t, name, out); break;
    default: r = vk_error(-EINVAL, "%s: unknown boot configuration syntax", name);
    }
    free(t);
    if (r == 0) {
        /* Entries without a kernel (chainloaders, memtest via linux16 is
         * fine) cannot be booted by extraction; keep them so positions
         * match the menu, but a config with none bootable is useless. */
        unsigned bootable = 0;
        for (unsigned i = 0; i < out->n; i++)
            bootable += out->e[i].kernel != NULL;
        if (!bootable)
            r = vk_error(-ENOENT, "%s: no boot entry with a kernel", name);
    }
    if (r < 0)
        vk_bootcfg_free(out);
    return r;
}

struct vk_boot_entry *vk_bootcfg_add(struct vk_bootcfg *c, const char *name)
{
    if (c->n >= VK_BOOTCFG_ENTRIES) {
        vk_error(-E2BIG, "%s: more than %d boot entries", name, VK_BOOTCFG_ENTRIES);
        return NULL;
    }
    struct vk_boot_entry *ne = realloc(c->e, (c->n + 1) * sizeof *ne);
    if (!ne) {
        vk_error(-ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    c->e = ne;
    struct vk_boot_entry *e = &c->e[c->n++];
    memset(e, 0, sizeof *e);
    return e;
}

char *vk_bootcfg_devpath(const char *p, int *part)
{
    if (p[0] == '(') {
        const char *close = strchr(p, ')');
        if (close) {
            /* (hd0,0) legacy: 0-based; (hd0,msdos1)/(hd0,gpt2)/(hd0,1) GRUB2: 1-based */
            const char *comma = memchr(p, ',', close - p);
            if (comma && part) {
                const char *d = comma + 1;
                while (d < close && isalpha((unsigned char)*d))
                    d++;
                if (d < close && isdigit((unsigned char)*d))
                    *part = atoi(d);
            }
            p = close + 1;
        }
    }
    return strdup(*p ? p : "/");
}

int vk_bootcfg_append(char **s, const char *word)
{
    size_t a = *s ? strlen(*s) : 0, b = strlen(word);
    char *n = realloc(*s, a + b + 2);
    if (!n)
        return -ENOMEM;
    if (a)
        n[a++] = ' ';
    memcpy(n + a, word, b + 1);
    *s = n;
    return 0;
}

static bool is_path(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && *s != '>')
            return false;
    return true;
}

static bool title_matches(const char *title, const char *want)
{
    if (!strcmp(title, want))
        return true;
    const char *last = strrchr(title, '>');
    return last && !strcmp(last + 1, want);
}

int vk_bootcfg_select(const struct vk_bootcfg *c, const char *sel, const char *name,
                      const struct vk_boot_entry **out)
{
    const char *want = sel ? sel : c->def;
    const struct vk_boot_entry *hit = NULL;
    if (want && *want) {
        for (unsigned i = 0; i < c->n && !hit; i++)
            if (is_path(want) ? !strcmp(c->e[i].path, want)
                              : title_matches(c->e[i].title, want) ||
                                    (c->e[i].id && title_matches(c->e[i].id, want)))
                hit = &c->e[i];
    }
    if (!hit && sel)
        return vk_error(-ENOENT, "%s: no boot entry '%s' (%u entries)", name, sel, c->n);
    if (!hit) {
        /* default names nothing (saved_entry unset): the first entry */
        if (!c->n)
            return vk_error(-ENOENT, "%s: no boot entries", name);
        hit = &c->e[0];
    }
    if (!hit->kernel)
        return vk_error(-ENOENT, "%s: boot entry '%s' has no kernel", name, hit->title);
    *out = hit;
    return 0;
}
