/* grub.cfg for install-grub: the kernels of a boot directory and the text
 * GRUB's normal mode reads.  The names come from a guest's filesystem, so
 * only plain names reach the file (nothing to quote, nothing to inject). */
#include "boot/grub_install.h"

#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool plain_name(const char *s)
{
    if (!*s || *s == '.' || *s == '-')
        return false;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+~-", *s))
            return false;
    return true;
}

static bool has_name(char *const *names, size_t n, const char *want)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], want))
            return true;
    return false;
}

/* The initrd that goes with version ver ("" for plain vmlinuz), or NULL. */
static const char *find_initrd(char *const *names, size_t n, const char *ver, char *buf,
                               size_t len)
{
    static const char *const plain[] = { "initrd.img", "initrd", "initrd.gz" };
    static const char *const fmt[] = { "initrd.img-%s", "initrd-%s.img", "initramfs-%s.img",
                                       "initrd-%s", "initrd-%s.gz" };
    for (size_t i = 0; i < (*ver ? sizeof fmt : sizeof plain) / sizeof *fmt; i++) {
        if (*ver)
            snprintf(buf, len, fmt[i], ver);
        else
            snprintf(buf, len, "%s", plain[i]);
        if (has_name(names, n, buf) && plain_name(buf))
            return buf;
    }
    return NULL;
}

static int cmp_kernel(const void *a, const void *b)
{
    const struct vk_grub_kernel *x = a, *y = b;
    if (!*x->version != !*y->version)
        return *x->version ? 1 : -1;      /* plain vmlinuz (the default link) first */
    return strverscmp(y->version, x->version);
}

/* Contract in boot/grub_install.h. */
void vk_grub_kernels_free(struct vk_grub_kernel *k, size_t count)
{
    for (size_t i = 0; k && i < count; i++) {
        free(k[i].kernel);
        free(k[i].initrd);
        free(k[i].version);
    }
    free(k);
}

/* Contract in boot/grub_install.h. */
int vk_grub_find_kernels(char *const *names, size_t n, struct vk_grub_kernel **out,
                         size_t *count)
{
    struct vk_grub_kernel *k = calloc(n ? n : 1, sizeof *k);
    size_t c = 0;
    if (!k)
        return vk_error(-ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s = names[i], *ver;
        if (!strcmp(s, "vmlinuz"))
            ver = "";
        else if (!strncmp(s, "vmlinuz-", 8) && s[8])
            ver = s + 8;
        else
            continue;
        if (!plain_name(s))
            continue;
        char buf[300];
        const char *rd = strlen(s) < 200 ? find_initrd(names, n, ver, buf, sizeof buf) : NULL;
        k[c].kernel = strdup(s);
        k[c].version = strdup(ver);
        k[c].initrd = rd ? strdup(rd) : NULL;
        c++;
        if (!k[c - 1].kernel || !k[c - 1].version || (rd && !k[c - 1].initrd)) {
            vk_grub_kernels_free(k, c);
            return vk_error(-ENOMEM, "out of memory");
        }
    }
    qsort(k, c, sizeof *k, cmp_kernel);
    *out = k;
    *count = c;
    return 0;
}

/* Kernel arguments the user adds go into grub.cfg unquoted: refuse what
 * GRUB's script syntax would read as more than words. */
static bool plain_args(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || strchr(";{}'\"$\\|&<>`#", *s))
            return false;
    return true;
}

/* Contract in boot/grub_install.h. */
int vk_grub_config(const struct vk_grub_cfg *c, const struct vk_grub_kernel *k, size_t n,
                   char **text)
{
    if (c->append && !plain_args(c->append))
        return vk_error(-EINVAL, "kernel arguments '%s': characters GRUB's script syntax "
                        "would interpret (; { } quotes $ \\ | & < > ` #)", c->append);
    if (!plain_name(c->uuid) || !plain_name(c->root_uuid))
        return vk_error(-EINVAL, "filesystem UUID '%s': not a plain name", c->uuid);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return vk_error(-ENOMEM, "out of memory");
    fprintf(f, "# GRUB configuration written by vmkit boot install-grub.\n"
               "# install-grub leaves this file alone; --force-config rewrites it.\n"
               "serial --unit=0 --speed=115200\n"
               "terminal_input serial console\n"
               "terminal_output serial console\n"
               "set default=0\n");
    if (c->timeout >= 0)
        fprintf(f, "set timeout=%d\n", c->timeout);
    fprintf(f, "insmod %s\ninsmod %s\n", c->part_module, c->fs_module);
    fprintf(f, "search --no-floppy --fs-uuid --set=root %s\n", c->uuid);
    if (!n)
        fprintf(f, "\n# No kernel (vmlinuz-VERSION) was found in %s/ when this was written.\n",
                c->boot);
    for (size_t i = 0; i < n; i++) {
        const char *v = *k[i].version ? k[i].version : NULL;
        fprintf(f, "\nmenuentry 'Linux%s%s' --id 'linux%s%s' {\n", v ? " " : "", v ? v : "",
                v ? "-" : "", v ? v : "");
        fprintf(f, "\tlinux %s/%s root=UUID=%s ro console=ttyS0%s%s\n", c->boot, k[i].kernel,
                c->root_uuid, c->append && *c->append ? " " : "", c->append ? c->append : "");
        if (k[i].initrd)
            fprintf(f, "\tinitrd %s/%s\n", c->boot, k[i].initrd);
        fprintf(f, "}\n");
    }
    if (ferror(f) | fclose(f)) {
        free(out);
        return vk_error(-ENOMEM, "grub.cfg: out of memory");
    }
    *text = out;
    return 0;
}
