/* extlinux.conf / syslinux.cfg reader: DEFAULT, ONTIMEOUT, UI, LABEL,
 * MENU LABEL, MENU DEFAULT, KERNEL/LINUX, APPEND (with initrd= inside it),
 * INITRD; COM32/.c32 modules, LOCALBOOT and memtest mark an entry as not
 * Linux.  Keywords are case-insensitive as in syslinux.
 *
 * What boots unattended, as syslinux decides it: ONTIMEOUT's label; else,
 * when a menu module is the user interface (UI, or DEFAULT naming a .c32),
 * the MENU DEFAULT entry; else DEFAULT's label; else the first entry. */
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
    char *deflabel = NULL, *ontimeout = NULL, *menudef = NULL;
    bool ui = false;
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
                /* '^' marks the hotkey letter; the menu does not show it */
                for (char *c = cur->title, *o = c; c; c++) {
                    if (*c != '^')
                        *o++ = *c;
                    if (!*c)
                        break;
                }
            } else if (!strcasecmp(sub, "default") && cur) {
                free(menudef);
                if (!(menudef = strdup(cur->path)))
                    r = -ENOMEM;
            }
        } else if (!strcasecmp(l, "default") || !strcasecmp(l, "ontimeout")) {
            char **d = !strcasecmp(l, "default") ? &deflabel : &ontimeout;
            rest[strcspn(rest, " \t")] = '\0';   /* a label; the rest would be arguments */
            size_t rl = strlen(rest);
            if (d == &deflabel && rl > 4 && !strcasecmp(rest + rl - 4, ".c32")) {
                ui = true;                        /* DEFAULT menu.c32: the menu decides */
                continue;
            }
            free(*d);
            if (!(*d = strdup(rest)))
                r = -ENOMEM;
        } else if (!strcasecmp(l, "ui")) {
            ui = true;
        } else if (!strcasecmp(l, "label")) {
            if (!(cur = vk_bootcfg_add(out, name, -1, out->n))) {
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
            cur->label = strdup(rest);
            cur->path = strdup(idx);
            cur->args = strdup("");
            if (!cur->title || !cur->label || !cur->path || !cur->args || !labels[out->n - 1])
                r = -ENOMEM;
        } else if (!cur) {
            continue;
        } else if ((!strcasecmp(l, "kernel") || !strcasecmp(l, "linux")) && *rest) {
            free(cur->kernel);
            if (!(cur->kernel = strdup(rest)))
                r = -ENOMEM;
            else if (vk_bootcfg_not_linux(rest))
                r = vk_bootcfg_other(cur, vk_bootcfg_not_linux(rest), rest);
        } else if (!strcasecmp(l, "com32")) {
            r = vk_bootcfg_other(cur, "a syslinux module", rest);
        } else if (!strcasecmp(l, "localboot")) {
            r = vk_bootcfg_other(cur, "the next boot device (LOCALBOOT)", NULL);
        } else if (!strcasecmp(l, "boot") || !strcasecmp(l, "bss") || !strcasecmp(l, "pxe") ||
                   !strcasecmp(l, "fdimage") || !strcasecmp(l, "comboot") ||
                   !strcasecmp(l, "config")) {
            r = vk_bootcfg_other(cur, l, rest);
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
    /* ONTIMEOUT and DEFAULT name a LABEL; the index is what selection
     * understands.  One that names no label stays as written, so the
     * selection reports it. */
    const char *want = ontimeout ? ontimeout : ui && menudef ? NULL : deflabel;
    if (r == 0 && !want && menudef)
        out->def = menudef, menudef = NULL;
    if (r == 0 && want) {
        const char *d = want;
        for (unsigned i = 0; i < out->n; i++)
            if (labels[i] && !strcmp(labels[i], want)) {
                d = out->e[i].path;
                break;
            }
        if (!(out->def = strdup(d)))
            r = -ENOMEM;
    }
    /* Relative kernel paths are relative to the config's directory in
     * syslinux; pygrub resolves them, here they stay as written. */
    for (unsigned i = 0; i < out->n && labels; i++)
        free(labels[i]);
    free(labels);
    free(deflabel);
    free(ontimeout);
    free(menudef);
    free(copy);
    if (r == -ENOMEM)
        return vk_error(r, "%s: out of memory", name);
    return r;
}
