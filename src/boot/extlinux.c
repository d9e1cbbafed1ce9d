/* extlinux.conf / syslinux.cfg reader: DEFAULT, LABEL, MENU LABEL,
 * MENU DEFAULT, KERNEL/LINUX, APPEND (with initrd= inside it), INITRD.
 * Keywords are case-insensitive as in syslinux. */
#include "boot/bootcfg.h"

#include "util/err.h"
#include "util/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Split "key rest": returns rest, key NUL-terminated in place. */
static char *split(char *l)
{
    char *rest = l;
    while (*rest && !isspace((unsigned char)*rest))
        rest++;
    if (*rest)
        *rest++ = '\0';
    return vk_trim(rest);
}

/* APPEND: move initrd=A[,B] out of the arguments into e->initrd. */
static int set_append(struct vk_boot_entry *e, const char *rest)
{
    free(e->args);
    e->args = NULL;
    if (!strcmp(rest, "-"))
        return (e->args = strdup("")) ? 0 : -ENOMEM;
    char *copy = strdup(rest);
    if (!copy)
        return -ENOMEM;
    int r = 0;
    char *save = NULL;
    for (char *w = strtok_r(copy, " \t", &save); w && r == 0; w = strtok_r(NULL, " \t", &save)) {
        if (!strncmp(w, "initrd=", 7)) {
            char *list = w + 7;
            for (char *c = list; *c; c++)
                if (*c == ',')
                    *c = '\n';  /* several initrds, loaded one after another */
            free(e->initrd);
            if (!(e->initrd = strdup(list)))
                r = -ENOMEM;
        } else {
            r = vk_bootcfg_append(&e->args, w);
        }
    }
    free(copy);
    if (r == 0 && !e->args && !(e->args = strdup("")))
        r = -ENOMEM;
    return r;
}

int vk_bootcfg_extlinux(const char *text, const char *name, struct vk_bootcfg *out)
{
    char *copy = strdup(text);
    if (!copy)
        return vk_error(-ENOMEM, "%s: out of memory", name);
    struct vk_boot_entry *cur = NULL;
    char *deflabel = NULL;
    char **labels = NULL;   /* LABEL of each entry, for DEFAULT */
    int r = 0;
    char *save = NULL;
    for (char *l = copy; l && r == 0; l = save) {
        save = strchr(l, '\n');
        if (save)
            *save++ = '\0';
        l = vk_trim(l);
        if (!*l || *l == '#')
            continue;
        char *rest = split(l);
        if (!strcasecmp(l, "menu")) {
            char *sub = rest;
            rest = split(sub);
            if (!strcasecmp(sub, "label") && cur) {
                free(cur->title);
                if (!(cur->title = strdup(rest)))
                    r = -ENOMEM;
            } else if (!strcasecmp(sub, "default") && cur) {
                free(out->def);
                if (!(out->def = strdup(cur->path)))
                    r = -ENOMEM;
                free(deflabel);
                deflabel = NULL;
            }
        } else if (!strcasecmp(l, "default")) {
            free(deflabel);
            if (!(deflabel = strdup(rest)))
                r = -ENOMEM;
        } else if (!strcasecmp(l, "label")) {
            if (!(cur = vk_bootcfg_add(out, name))) {
                r = -E2BIG;
                break;
            }
            char **nl = realloc(labels, out->n * sizeof *nl);
            if (!nl) {
                r = -ENOMEM;
                break;
            }
            labels = nl;
            labels[out->n - 1] = strdup(rest);
            char idx[16];
            snprintf(idx, sizeof idx, "%u", out->n - 1);
            cur->title = strdup(rest);
            cur->path = strdup(idx);
            cur->args = strdup("");
            if (!cur->title || !cur->path || !cur->args || !labels[out->n - 1])
                r = -ENOMEM;
        } else if (!cur) {
            continue;
        } else if ((!strcasecmp(l, "kernel") || !strcasecmp(l, "linux")) && *rest) {
            free(cur->kernel);
            if (!(cur->kernel = strdup(rest)))
                r = -ENOMEM;
        } else if (!strcasecmp(l, "append")) {
            r = set_append(cur, rest);
        } else if (!strcasecmp(l, "initrd") && *rest) {
            free(cur->initrd);
            if (!(cur->initrd = strdup(rest)))
                r = -ENOMEM;
            for (char *c = cur->initrd; r == 0 && *c; c++)
                if (*c == ',')
                    *c = '\n';
        }
    }
    /* DEFAULT names a LABEL; the index is what selection understands. */
    if (r == 0 && deflabel) {
        for (unsigned i = 0; i < out->n; i++)
            if (labels[i] && !strcmp(labels[i], deflabel)) {
                free(out->def);
                if (!(out->def = strdup(out->e[i].path)))
                    r = -ENOMEM;
                break;
            }
    }
    /* Relative kernel paths are relative to the config's directory in
     * syslinux; pygrub resolves them, here they stay as written. */
    for (unsigned i = 0; i < out->n && labels; i++)
        free(labels[i]);
    free(labels);
    free(deflabel);
    free(copy);
    if (r == -ENOMEM)
        return vk_error(r, "%s: out of memory", name);
    return r;
}
