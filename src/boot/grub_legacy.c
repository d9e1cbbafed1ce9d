/* GRUB legacy menu.lst / grub.conf reader: `default N` (or `default
 * saved`: the number in the `default` file next to the menu, which
 * `savedefault` writes), `title`, `root (hd0,N)`, `kernel PATH ARGS`,
 * `initrd PATH`; `chainloader`, `module` (a Xen or other multiboot kernel)
 * and memtest kernels mark an entry as not Linux; every other command
 * (timeout, splashimage, hiddenmenu, savedefault...) is ignored. */
#include "boot/bootcfg.h"

#include "util/err.h"
#include "util/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vk_bootcfg_grub_legacy(const char *text, const char *name, const struct vk_bootcfg_env *env,
                           struct vk_bootcfg *out)
{
    char *copy = strdup(text);
    if (!copy)
        return vk_error(-ENOMEM, "%s: out of memory", name);
    struct vk_boot_entry *cur = NULL;
    int root = 0, r = 0;
    unsigned line = 0;
    char *save = NULL;
    for (char *l = copy; l && r == 0; l = save) {
        save = strchr(l, '\n');
        if (save)
            *save++ = '\0';
        line++;
        l = vk_trim(l);
        if (!*l || *l == '#')
            continue;
        /* keyword, then '=' or blanks, then the rest */
        char *rest = l;
        while (*rest && !isspace((unsigned char)*rest) && *rest != '=')
            rest++;
        if (*rest)
            *rest++ = '\0';
        rest = vk_trim(rest);
        for (char *k = l; *k; k++)
            *k = (char)tolower((unsigned char)*k);

        if (!strcmp(l, "default")) {
            free(out->def);
            /* "saved": the number the default file holds (GRUB legacy
             * reads its first line); anything else non-numeric, or no
             * default file: the first entry */
            const char *d = rest;
            if (!strncmp(rest, "saved", 5) && env->saved)
                d = env->saved + strspn(env->saved, " \t\r\n");
            size_t dl = strspn(d, "0123456789");
            out->def = dl ? strndup(d, dl) : strdup("0");
            if (!out->def)
                r = -ENOMEM;
        } else if (!strcmp(l, "title")) {
            if (!(cur = vk_bootcfg_add(out, name, -1, out->n))) {
                r = -E2BIG;
                break;
            }
            char idx[16];
            snprintf(idx, sizeof idx, "%u", out->n - 1);
            cur->title = strdup(rest);
            cur->label = strdup(rest);
            cur->path = strdup(idx);
            cur->args = strdup("");
            cur->root_part = root;
            if (!cur->title || !cur->label || !cur->path || !cur->args)
                r = -ENOMEM;
        } else if (!strcmp(l, "root")) {
            int part = 0;
            char *d = vk_bootcfg_devpath(rest, &part);
            free(d);
            /* legacy numbering is 0-based: (hd0,0) is the first partition */
            if (rest[0] == '(' && strchr(rest, ','))
                part++;
            else
                part = 0;
            if (cur)
                cur->root_part = part;
            else
                root = part;
        } else if (!cur) {
            continue;
        } else if (!strcmp(l, "kernel") && *rest) {
            char *args = rest;
            while (*args && !isspace((unsigned char)*args))
                args++;
            if (*args)
                *args++ = '\0';
            int part = -1;
            free(cur->kernel);
            free(cur->args);
            cur->kernel = vk_bootcfg_devpath(rest, &part);
            cur->args = strdup(vk_trim(args));
            if (part >= 0)
                cur->root_part = part + 1;
            if (!cur->kernel || !cur->args)
                r = -ENOMEM;
            else if (vk_bootcfg_not_linux(cur->kernel))
                r = vk_bootcfg_other(cur, vk_bootcfg_not_linux(cur->kernel), cur->kernel);
        } else if (!strcmp(l, "module") || !strcmp(l, "modulenounzip")) {
            /* kernel xen.gz + module vmlinuz: the kernel is a multiboot
             * hypervisor (Xen's dom0 entries) */
            r = vk_bootcfg_other(cur, "a multiboot kernel with modules", cur->kernel);
        } else if (!strcmp(l, "chainloader")) {
            r = vk_bootcfg_other(cur, "a chainloader", rest);
        } else if (!strcmp(l, "initrd") && *rest) {
            char *sp = rest;
            while (*sp && !isspace((unsigned char)*sp))
                sp++;
            *sp = '\0';
            free(cur->initrd);
            if (!(cur->initrd = vk_bootcfg_devpath(rest, NULL)))
                r = -ENOMEM;
        }
    }
    free(copy);
    if (r == -ENOMEM)
        return vk_error(r, "%s: out of memory", name);
    return r;
}
