/* The USB key's grub.cfg (contract in guest/usbkey.h).  Titles, paths
 * and arguments come from ISO menus, so every word is quoted for GRUB's
 * script syntax when it is not plain: nothing in an ISO can add a
 * command to the key's config. */
#include "guest/usbkey.h"

#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Put s as one word of GRUB's shell: bare when plain, else in single
 * quotes ('\'' for a quote); control characters become '?'. */
static void word(FILE *f, const char *s)
{
    static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789._+~/=,:@%^-()";
    if (*s && strspn(s, plain) == strlen(s)) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
    }
    fputc('\'', f);
}

/* Which argument tells the ISO's initramfs where its ISO is. */
enum finder { ISO_SCAN, FINDISO, ARCHISO };

/* Does args hold the word want ("boot=live"), or, when want ends in
 * '=', a word starting with it? */
static bool has_word(const char *args, const char *want)
{
    size_t wl = strlen(want);
    bool prefix = want[wl - 1] == '=';
    for (const char *p = args; *p;) {
        p += strspn(p, " \t\n");
        size_t l = strcspn(p, " \t\n");
        if (l >= wl && (prefix || l == wl) && !strncmp(p, want, wl))
            return true;
        p += l;
    }
    return false;
}

static enum finder finder_of(const char *args)
{
    if (has_word(args, "boot=live") || has_word(args, "findiso="))
        return FINDISO;
    if (has_word(args, "archisobasedir=") || has_word(args, "archisolabel="))
        return ARCHISO;
    return ISO_SCAN;
}

/* Is w one of the words the key sets itself? */
static bool ours(const char *w, enum finder fd)
{
    switch (fd) {
    case FINDISO: return !strncmp(w, "findiso=", 8);
    case ARCHISO: return !strncmp(w, "img_dev=", 8) || !strncmp(w, "img_loop=", 9);
    default: return !strncmp(w, "iso-scan/filename=", 18);
    }
}

static void locate(FILE *f, enum finder fd, const char *file, const char *uuid)
{
    switch (fd) {
    case FINDISO: fputs(" findiso=", f); break;
    case ARCHISO: fprintf(f, " img_dev=/dev/disk/by-uuid/%s img_loop=", uuid); break;
    default: fputs(" iso-scan/filename=", f); break;
    }
    word(f, file);
}

/* The linux line's arguments: the ISO's, the locating ones set to file
 * (before a "---"), then append. */
static int args_line(FILE *f, const char *args, const char *file, const char *uuid,
                     const char *append)
{
    enum finder fd = finder_of(args);
    char *copy = strdup(args), *save = NULL;
    if (!copy)
        return -ENOMEM;
    bool placed = false;
    for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
        if (ours(w, fd))
            continue;
        if (!placed && !strcmp(w, "---")) {
            locate(f, fd, file, uuid);
            placed = true;
        }
        fputc(' ', f);
        word(f, w);
    }
    if (!placed)
        locate(f, fd, file, uuid);
    if (append && *append)
        fprintf(f, " %s", append);
    free(copy);
    return 0;
}

static bool plain_append(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || strchr(";{}'\"$\\|&<>`#", *s))
            return false;
    return true;
}

/* Contract in guest/usbkey.h. */
int vk_usbkey_config(const struct vk_usbkey_iso *isos, unsigned n, const char *uuid, int timeout,
                     const char *append, char **text)
{
    if (append && !plain_append(append))
        return vk_error(-EINVAL, "kernel arguments '%s': characters GRUB's script syntax "
                        "would interpret (; { } quotes $ \\ | & < > ` #)", append);
    if (strspn(uuid, "0123456789ABCDEFabcdef-") != strlen(uuid) || !*uuid)
        return vk_error(-EINVAL, "filesystem UUID '%s': not a UUID", uuid);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return vk_error(-ENOMEM, "out of memory");
    fprintf(f, "# GRUB configuration written by vmkit guest usbkey: one entry per ISO in\n"
               "# /isos, booting the kernel of the ISO's own default entry by loopback.\n"
               "serial --unit=0 --speed=115200\n"
               "terminal_input serial console\n"
               "terminal_output serial console\n"
               "set default=0\n");
    if (timeout >= 0)
        fprintf(f, "set timeout=%d\n", timeout);
    fprintf(f, "insmod part_msdos\ninsmod fat\ninsmod iso9660\ninsmod loopback\n"
               "search --no-floppy --fs-uuid --set=root %s\n", uuid);
    int r = 0;
    for (unsigned i = 0; i < n && r == 0; i++) {
        const struct vk_isomenu *m = isos[i].m;
        const char *base = strrchr(isos[i].file, '/');
        char *title = NULL;
        if (asprintf(&title, "%s: %s", base ? base + 1 : isos[i].file, m->title) < 0) {
            r = -ENOMEM;
            break;
        }
        fputs("\nmenuentry ", f);
        word(f, title);
        fprintf(f, " --id iso-%u {\n\tloopback loop ", i + 1);
        free(title);
        word(f, isos[i].file);
        fputs("\n\tlinux ", f);
        char *k = NULL;
        if (asprintf(&k, "(loop)%s", m->kernel) < 0) {
            r = -ENOMEM;
            break;
        }
        word(f, k);
        free(k);
        r = args_line(f, m->args, isos[i].file, uuid, append);
        if (m->initrd) {
            fputs("\n\tinitrd", f);
            char *copy = strdup(m->initrd), *save = NULL;
            if (!copy)
                r = -ENOMEM;
            for (char *w = copy ? strtok_r(copy, "\n", &save) : NULL; w && r == 0;
                 w = strtok_r(NULL, "\n", &save)) {
                char *p = NULL;
                if (asprintf(&p, "(loop)%s", w) < 0) {
                    r = -ENOMEM;
                    break;
                }
                fputc(' ', f);
                word(f, p);
                free(p);
            }
            free(copy);
        }
        fputs("\n}\n", f);
    }
    if ((ferror(f) | fclose(f)) || r < 0) {
        free(out);
        return vk_error(-ENOMEM, "grub.cfg: out of memory");
    }
    *text = out;
    return 0;
}
