/* The generic part of the boot configuration readers: dispatch by syntax,
 * input bounds, entry selection and small shared helpers. */
#include "boot/bootcfg.h"

#include "util/err.h"

#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int vk_bootcfg_kind_for_path(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (!strcmp(b, "grub.cfg"))
        return VK_BOOTCFG_GRUB2;
    if (!strcmp(b, "menu.lst") || !strcmp(b, "grub.conf"))
        return VK_BOOTCFG_GRUB_LEGACY;
    if (!strcmp(b, "extlinux.conf") || !strcmp(b, "syslinux.cfg") || !strcmp(b, "isolinux.cfg"))
        return VK_BOOTCFG_EXTLINUX;
    return -1;
}

void vk_bootcfg_free(struct vk_bootcfg *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        free(c->e[i].title);
        free(c->e[i].label);
        free(c->e[i].path);
        free(c->e[i].id);
        free(c->e[i].own_id);
        free(c->e[i].other);
        free(c->e[i].kernel);
        free(c->e[i].initrd);
        free(c->e[i].args);
        free(c->e[i].loop);
    }
    free(c->e);
    free(c->def);
    memset(c, 0, sizeof *c);
}

/* A NUL-terminated copy of len bytes of untrusted text, refused when too
 * large or binary.  what names it in messages. */
static int text_copy(const char *text, size_t len, const char *name, const char *what, char **out)
{
    *out = NULL;
    if (len > VK_BOOTCFG_MAX)
        return vk_error(-EFBIG, "%s: %s too large (%zu bytes, at most %u)", name, what, len,
                        VK_BOOTCFG_MAX);
    const char *nul = len ? memchr(text, '\0', len) : NULL;
    if (nul)
        return vk_error(-EINVAL, "%s: binary data (NUL byte at offset %zu), not a %s", name,
                        (size_t)(nul - text), what);
    char *t = malloc(len + 1);
    if (!t)
        return vk_error(-ENOMEM, "%s: out of memory", name);
    if (len)
        memcpy(t, text, len);
    t[len] = '\0';
    *out = t;
    return 0;
}

int vk_bootcfg_parse(enum vk_bootcfg_kind kind, const char *text, size_t len,
                     const char *name, const struct vk_bootcfg_env *env,
                     struct vk_bootcfg *out)
{
    memset(out, 0, sizeof *out);
    struct vk_bootcfg_env e = { 0 };
    char *t = NULL, *saved = NULL;
    int r = text_copy(text, len, name, "boot configuration", &t);
    if (r == 0 && env && env->saved && (r = text_copy(env->saved, env->saved_len, name,
                                                      "saved default (grubenv)", &saved)) == 0)
        e.saved = saved, e.saved_len = env->saved_len;
    if (r == 0 && env) {
        e.bls = env->bls;
        e.n_bls = env->n_bls;
    }
    if (r == 0) {
        switch (kind) {
        case VK_BOOTCFG_GRUB2:        r = vk_bootcfg_grub2(t, name, &e, out); break;
        case VK_BOOTCFG_GRUB_LEGACY:  r = vk_bootcfg_grub_legacy(t, name, &e, out); break;
        case VK_BOOTCFG_EXTLINUX:     r = vk_bootcfg_extlinux(t, name, out); break;
        default: r = vk_error(-EINVAL, "%s: unknown boot configuration syntax", name);
        }
    }
    free(t);
    free(saved);
    if (r == 0) {
        /* Entries without a kernel (chainloaders, submenus) cannot be
         * booted by extraction; keep them so positions match the menu,
         * but a config with none bootable is useless. */
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

struct vk_boot_entry *vk_bootcfg_add(struct vk_bootcfg *c, const char *name, int parent,
                                     unsigned pos)
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
    e->parent = parent;
    e->pos = pos;
    return e;
}

int vk_bootcfg_other(struct vk_boot_entry *e, const char *what, const char *path)
{
    if (e->other)
        return 0;
    if (asprintf(&e->other, path && *path ? "%s (%s)" : "%s", what, path) < 0) {
        e->other = NULL;
        return -ENOMEM;
    }
    return 0;
}

const char *vk_bootcfg_not_linux(const char *kernel)
{
    const char *b = strrchr(kernel, '/');
    b = b ? b + 1 : kernel;
    size_t l = strlen(b);
    if (!strncasecmp(b, "memtest", 7))
        return "memtest86+";
    if (l > 4 && !strcasecmp(b + l - 4, ".c32"))
        return "a syslinux module";
    if (!strncmp(b, "xen", 3) && (l == 3 || b[3] == '.' || b[3] == '-'))
        return "the Xen hypervisor";
    return NULL;
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

/* The next part of a '>'-separated menu path at *p into buf (">>" is a
 * literal '>'); *p moves past it and its separator.  false when it does
 * not fit. */
static bool next_part(const char **p, char *buf, size_t len)
{
    size_t n = 0;
    const char *s = *p;
    for (; *s; s++) {
        if (*s == '>' && s[1] == '>')
            s++;
        else if (*s == '>')
            break;
        if (n + 1 >= len)
            return false;
        buf[n++] = *s;
    }
    buf[n] = '\0';
    *p = *s ? s + 1 : s;
    return true;
}

/* Resolve spec as GRUB resolves `default`: part by part down the menu
 * levels, each part a position or a title or id of that menu.  The
 * entry's index, or -1. */
static int resolve(const struct vk_bootcfg *c, const char *spec)
{
    int parent = -1, hit = -1;
    const char *p = spec;
    char part[VK_BOOTCFG_WORD];
    do {
        if (!next_part(&p, part, sizeof part))
            return -1;
        char *end;
        errno = 0;
        unsigned long n = strtoul(part, &end, 0);
        bool num = *part && isdigit((unsigned char)*part) && !*end && !errno;
        hit = -1;
        for (unsigned i = 0; i < c->n && hit < 0; i++) {
            const struct vk_boot_entry *e = &c->e[i];
            if (e->parent != parent)
                continue;
            if (num ? e->pos == n
                    : (e->label && !strcmp(e->label, part)) || (e->own_id && !strcmp(e->own_id, part)))
                hit = (int)i;
        }
        if (hit < 0 || (*p && !c->e[hit].submenu))
            return -1;
        parent = hit;
    } while (*p);
    return hit;
}

/* Xen pygrub's leniency for an explicit choice: the full title or id
 * path, or the title of an entry inside a submenu. */
static int lenient(const struct vk_bootcfg *c, const char *want)
{
    for (unsigned i = 0; i < c->n; i++)
        if ((c->e[i].title && !strcmp(c->e[i].title, want)) ||
            (c->e[i].id && !strcmp(c->e[i].id, want)))
            return (int)i;
    for (unsigned i = 0; i < c->n; i++)
        if (!c->e[i].submenu && c->e[i].label && !strcmp(c->e[i].label, want))
            return (int)i;
    return -1;
}

int vk_bootcfg_select(const struct vk_bootcfg *c, const char *sel, const char *name,
                      const struct vk_boot_entry **out)
{
    const char *want = sel ? sel : c->def;
    int hit = want && *want ? resolve(c, want) : -1;
    if (hit < 0 && sel && (hit = lenient(c, sel)) < 0)
        return vk_error(-ENOENT, "%s: no boot entry '%s' (%u entries)", name, sel, c->n);
    if (hit < 0) {
        /* GRUB: a default that names nothing (saved_entry unset) boots
         * the first entry of the top menu */
        for (unsigned i = 0; i < c->n && hit < 0; i++)
            if (c->e[i].parent < 0 && c->e[i].pos == 0)
                hit = (int)i;
        if (hit < 0)
            return vk_error(-ENOENT, "%s: no boot entries", name);
        if (want && *want) {
            int l = lenient(c, want);
            vk_warn("%s: default '%s' names no entry of the menu%s%s%s; the first entry ('%s') "
                    "boots, as under GRUB", name, want,
                    l >= 0 ? " (GRUB matches titles one menu level at a time: '" : "",
                    l >= 0 ? c->e[l].title : "", l >= 0 ? "' would name it)" : "",
                    c->e[hit].title ? c->e[hit].title : "");
        }
    }
    const struct vk_boot_entry *e = &c->e[hit];
    const char *t = e->title ? e->title : e->path;
    const char *how = sel ? "chosen" : "default";
    if (e->submenu)
        return vk_error(-ENOENT, "%s: the %s entry '%s' is a submenu, not a boot entry; name an "
                        "entry inside it ('%s>0' is its first)", name, how, t, e->path);
    if (e->other)
        return vk_error(-ENOENT, "%s: the %s entry '%s' boots %s, not a Linux kernel; choose "
                        "a Linux entry (--entry=, or bootloader_args in xl.cfg)", name, how, t,
                        e->other);
    if (!e->kernel)
        return vk_error(-ENOENT, "%s: boot entry '%s' has no kernel", name, t);
    *out = e;
    return 0;
}
