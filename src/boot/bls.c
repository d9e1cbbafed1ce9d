/* Boot Loader Specification entries (/boot/loader/entries/ID.conf), as
 * the blscfg command of Fedora's GRUB reads them: one "key value" per
 * line (title, version, linux, initrd, options; '#' comments), several
 * initrd and options lines allowed, and the menu sorted newest version
 * first. */
#include "boot/bls.h"

#include "util/err.h"
#include "util/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void vk_bls_free(struct vk_bls_entry *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].title);
        free(v[i].version);
        free(v[i].linux);
        free(v[i].initrd);
        free(v[i].options);
    }
    free(v);
}

/* Append value to *s, joined by sep when *s is not empty. */
static int join(char **s, const char *value, char sep)
{
    size_t a = *s ? strlen(*s) : 0, b = strlen(value);
    char *n = realloc(*s, a + b + 2);
    if (!n)
        return -ENOMEM;
    if (a)
        n[a++] = sep;
    memcpy(n + a, value, b + 1);
    *s = n;
    return 0;
}

static int parse_one(const struct vk_bls_file *f, const char *name, struct vk_bls_entry *e)
{
    if (f->len > VK_BOOTCFG_MAX)
        return vk_error(-EFBIG, "%s: %s: too large (%zu bytes, at most %u)", name, f->name,
                        f->len, VK_BOOTCFG_MAX);
    if (f->len && memchr(f->text, '\0', f->len))
        return vk_error(-EINVAL, "%s: %s: binary data, not a boot entry", name, f->name);
    char *t = strndup(f->text, f->len);
    size_t nl = strlen(f->name);
    e->id = strndup(f->name, nl > 5 && !strcmp(f->name + nl - 5, ".conf") ? nl - 5 : nl);
    if (!t || !e->id) {
        free(t);
        return -ENOMEM;
    }
    int r = 0;
    char *save = NULL;
    for (char *l = strtok_r(t, "\n", &save); l && r == 0; l = strtok_r(NULL, "\n", &save)) {
        l = vk_trim(l);
        if (!*l || *l == '#')
            continue;
        char *v = l + strcspn(l, " \t");
        if (*v)
            *v++ = '\0';
        v = vk_trim(v);
        if (!strcmp(l, "title") || !strcmp(l, "version") || !strcmp(l, "linux")) {
            char **d = l[0] == 't' ? &e->title : l[0] == 'v' ? &e->version : &e->linux;
            free(*d);
            if (!(*d = strdup(v)))
                r = -ENOMEM;
        } else if (!strcmp(l, "initrd")) {
            /* "initrd /a /b" and repeated initrd lines: all, in order */
            char *s2 = NULL;
            for (char *w = strtok_r(v, " \t", &s2); w && r == 0; w = strtok_r(NULL, " \t", &s2))
                r = join(&e->initrd, w, '\n');
        } else if (!strcmp(l, "options")) {
            r = join(&e->options, v, ' ');
        }
    }
    free(t);
    return r;
}

/* rpm's version comparison, which blscfg uses: runs of digits compare
 * numerically, runs of letters as strings, a run of digits is newer than
 * letters, '~' sorts before everything. */
static int vercmp(const char *a, const char *b)
{
    while (*a || *b) {
        while (*a && !isalnum((unsigned char)*a) && *a != '~')
            a++;
        while (*b && !isalnum((unsigned char)*b) && *b != '~')
            b++;
        if (*a == '~' || *b == '~') {
            if (*a != '~')
                return 1;
            if (*b != '~')
                return -1;
            a++, b++;
            continue;
        }
        if (!*a || !*b)
            return *a ? 1 : *b ? -1 : 0;
        bool num = isdigit((unsigned char)*a);
        if (num != (bool)isdigit((unsigned char)*b))
            return num ? 1 : -1;
        const char *ea = a, *eb = b;
        while (*ea && (num ? isdigit((unsigned char)*ea) : isalpha((unsigned char)*ea)))
            ea++;
        while (*eb && (num ? isdigit((unsigned char)*eb) : isalpha((unsigned char)*eb)))
            eb++;
        if (num) {
            while (*a == '0' && a + 1 < ea)
                a++;
            while (*b == '0' && b + 1 < eb)
                b++;
            if (ea - a != eb - b)
                return ea - a > eb - b ? 1 : -1;
        }
        size_t la = (size_t)(ea - a), lb = (size_t)(eb - b);
        int c = strncmp(a, b, la < lb ? la : lb);
        if (c)
            return c > 0 ? 1 : -1;
        if (la != lb)
            return la > lb ? 1 : -1;
        a = ea, b = eb;
    }
    return 0;
}

/* newest first: version (the id when absent), then id, both descending */
static int newest_first(const void *x, const void *y)
{
    const struct vk_bls_entry *a = x, *b = y;
    int c = vercmp(b->version ? b->version : b->id, a->version ? a->version : a->id);
    return c ? c : vercmp(b->id, a->id);
}

/* Contract in bls.h. */
int vk_bls_parse(const struct vk_bls_file *files, unsigned n, const char *name,
                 struct vk_bls_entry **out)
{
    *out = NULL;
    if (n > VK_BOOTCFG_ENTRIES)
        return vk_error(-E2BIG, "%s: more than %d boot entries", name, VK_BOOTCFG_ENTRIES);
    struct vk_bls_entry *v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return vk_error(-ENOMEM, "%s: out of memory", name);
    int r = 0;
    for (unsigned i = 0; i < n && r == 0; i++)
        r = parse_one(&files[i], name, &v[i]);
    if (r < 0) {
        vk_bls_free(v, n);
        return r == -ENOMEM ? vk_error(r, "%s: out of memory", name) : r;
    }
    qsort(v, n, sizeof *v, newest_first);
    *out = v;
    return 0;
}
