/* struct vk_domcfg -> xl.cfg text; defaults and consistency checks. */
#include "vm/config.h"
#include "vm/store.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

struct buf {
    char *p;
    size_t n, cap;
    int oom;
};

static void put(struct buf *b, const char *fmt, ...) VK_PRINTF(2, 3);
static void put(struct buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int l = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)l + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap * 2 : 1024) + (size_t)l;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)l;
}

/* A double-quoted xl string with the escapes vk_domcfg_parse reads. */
static void put_q(struct buf *b, const char *s)
{
    put(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') put(b, "\\%c", c);
        else if (c == '\n') put(b, "\\n");
        else if (c == '\t') put(b, "\\t");
        else if (c == '\r') put(b, "\\r");
        else if (c < 0x20 || c == 0x7f) put(b, "\\x%02x", c);
        else put(b, "%c", c);
    }
    put(b, "\"");
}

static void put_kv(struct buf *b, const char *k, const char *v)
{
    if (!v)
        return;
    put(b, "%s = ", k);
    put_q(b, v);
    put(b, "\n");
}

/* Canonical key=value disk spec: target last, since paths may hold commas. */
static void put_disk(struct buf *b, const struct vk_diskspec *d)
{
    char s[4096 + 256];
    int n = snprintf(s, sizeof s, "%s%s%svdev=%s,access=%s%s%s%s,target=",
                     d->format ? "format=" : "", d->format ? d->format : "",
                     d->format ? "," : "", d->vdev, d->readonly ? "ro" : "rw",
                     d->cdrom ? ",devtype=cdrom" : "",
                     d->backendtype ? ",backendtype=" : "",
                     d->backendtype ? d->backendtype : "");
    if (n < 0 || (size_t)n >= sizeof s) {
        b->oom = 1;
        return;
    }
    char *full = malloc((size_t)n + (d->target ? strlen(d->target) : 0) + 1);
    if (!full) {
        b->oom = 1;
        return;
    }
    strcpy(full, s);
    if (d->target)
        strcat(full, d->target);
    put_q(b, full);
    free(full);
}

static void put_vif(struct buf *b, const struct vk_vifspec *v)
{
    struct buf t = { 0 };
    put(&t, "type=%s", v->type == VK_VIF_BRIDGE ? "bridge" : "user");
    if (v->mac) put(&t, ",mac=%s", v->mac);
    if (v->bridge) put(&t, ",bridge=%s", v->bridge);
    if (v->model) put(&t, ",model=%s", v->model);
    if (v->n_hostfwd) {
        put(&t, ",hostfwd=");
        for (unsigned i = 0; i < v->n_hostfwd; i++)
            put(&t, "%s%s", i ? ";" : "", v->hostfwd[i]);
    }
    if (t.oom) {
        b->oom = 1;
    } else {
        put_q(b, t.p);
    }
    free(t.p);
}

/* Contract in config.h. */
char *vk_domcfg_format(const struct vk_domcfg *c)
{
    struct buf b = { 0 };
    put(&b, "# vmkit domain configuration (xl.cfg syntax)\n");
    put_kv(&b, "name", c->name);
    put_kv(&b, "uuid", c->uuid);
    if (c->memory) put(&b, "memory = %u\n", c->memory);
    if (c->maxmem) put(&b, "maxmem = %u\n", c->maxmem);
    if (c->vcpus) put(&b, "vcpus = %u\n", c->vcpus);
    put_kv(&b, "bootloader", c->bootloader);
    if (c->n_bootloader_args) {
        put(&b, "bootloader_args = [ ");
        for (unsigned i = 0; i < c->n_bootloader_args; i++) {
            put_q(&b, c->bootloader_args[i]);
            put(&b, ", ");
        }
        put(&b, "]\n");
    }
    put_kv(&b, "kernel", c->kernel);
    put_kv(&b, "ramdisk", c->ramdisk);
    put_kv(&b, "root", c->root);
    put_kv(&b, "extra", c->extra);
    put_kv(&b, "cmdline", c->cmdline);
    put_kv(&b, "boot", c->boot);
    put_kv(&b, "machine", c->machine);
    put_kv(&b, "accel", c->accel);
    if (c->n_disks) {
        put(&b, "disk = [\n");
        for (unsigned i = 0; i < c->n_disks; i++) {
            put(&b, "    ");
            put_disk(&b, &c->disks[i]);
            put(&b, ",\n");
        }
        put(&b, "]\n");
    }
    if (c->vif_set || c->n_vifs) {
        put(&b, "vif = [");
        for (unsigned i = 0; i < c->n_vifs; i++) {
            put(&b, " ");
            put_vif(&b, &c->vifs[i]);
            put(&b, ",");
        }
        put(&b, " ]\n");
    }
    put(&b, "vnc = %d\n", c->vnc ? 1 : 0);
    put_kv(&b, "vnclisten", c->vnclisten);
    if (c->vncdisplay >= 0) put(&b, "vncdisplay = %d\n", c->vncdisplay);
    if (!c->vncunused) put(&b, "vncunused = 0\n");
    put_kv(&b, "vncpasswd", c->vncpasswd);
    put_kv(&b, "serial", c->serial);
    put(&b, "on_poweroff = \"%s\"\n", vk_action_name(c->on_poweroff));
    put(&b, "on_reboot = \"%s\"\n", vk_action_name(c->on_reboot));
    put(&b, "on_crash = \"%s\"\n", vk_action_name(c->on_crash));
    if (b.oom) {
        free(b.p);
        vk_error(-ENOMEM, "out of memory");
        return NULL;
    }
    return b.p;
}

/* Contract in store.h. */
int vk_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 64 || name[0] == '.' || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
            return 0;
    }
    return 1;
}

static int gen_uuid(char **out)
{
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return vk_error(-errno, "getrandom: %s", strerror(errno));
        }
        got += (size_t)n;
    }
    r[6] = (r[6] & 0x0f) | 0x40;  /* version 4 */
    r[8] = (r[8] & 0x3f) | 0x80;  /* RFC 4122 variant */
    char *s = malloc(37);
    if (!s)
        return vk_error(-ENOMEM, "out of memory");
    snprintf(s, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
             r[12], r[13], r[14], r[15]);
    *out = s;
    return 0;
}

/* Contract in config.h. */
int vk_domcfg_check(struct vk_domcfg *c)
{
    const char *who = c->source ? c->source : c->name ? c->name : "<config>";
    if (!c->name)
        return vk_error(-EINVAL, "%s: no name = \"...\" given", who);
    if (!vk_name_valid(c->name))
        return vk_error(-EINVAL, "%s: name '%s' is not valid (letters, digits, _ . -; at most 64)",
                        who, c->name);
    if (!c->uuid) {
        int err = gen_uuid(&c->uuid);
        if (err)
            return err;
    }
    if (!c->memory)
        c->memory = 128;
    if (c->memory < 16)
        return vk_error(-EINVAL, "%s: memory = %u MiB is too small", who, c->memory);
    if (c->maxmem && c->maxmem < c->memory)
        return vk_error(-EINVAL, "%s: maxmem (%u) is less than memory (%u)", who, c->maxmem, c->memory);
    if (!c->vcpus)
        c->vcpus = 1;
    if (c->bootloader && c->kernel)
        return vk_error(-EINVAL, "%s: both bootloader and kernel given; pick one", who);
    if (c->bootloader && strcmp(c->bootloader, "pygrub") && !strstr(c->bootloader, "/pygrub"))
        return vk_error(-EINVAL, "%s: bootloader '%s' not supported (only pygrub)", who, c->bootloader);
    if ((c->ramdisk || c->cmdline || c->extra || c->root) && !c->kernel && !c->bootloader)
        vk_warn("%s: ramdisk/extra/root/cmdline without kernel are ignored", who);
    if (c->accel && strcmp(c->accel, "kvm") && strcmp(c->accel, "tcg"))
        return vk_error(-EINVAL, "%s: accel '%s' is not kvm or tcg", who, c->accel);
    if (c->machine)
        for (const char *p = c->machine; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  *p == '-' || *p == '.' || *p == '_'))
                return vk_error(-EINVAL, "%s: machine '%s' is not a QEMU machine type name",
                                who, c->machine);
    if (c->boot)
        for (const char *p = c->boot; *p; p++)
            if (!strchr("acdn", *p))
                return vk_error(-EINVAL, "%s: boot = \"%s\": each letter must be a, c, d or n",
                                who, c->boot);
    return 0;
}

/* Contract in config.h. */
int vk_domcfg_validate_disks(const struct vk_domcfg *c)
{
    const char *who = c->name ? c->name : c->source ? c->source : "<config>";
    for (unsigned i = 0; i < c->n_disks; i++) {
        const struct vk_diskspec *d = &c->disks[i];
        if (!d->target)
            continue;
        struct stat st;
        if (stat(d->target, &st) < 0)
            return vk_error(-errno, "%s: disk '%s': %s: %s", who, d->spec ? d->spec : d->vdev,
                            d->target, strerror(errno));
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
            return vk_error(-EINVAL, "%s: disk '%s': %s: not a file or block device", who,
                            d->spec ? d->spec : d->vdev, d->target);
        if (access(d->target, d->readonly ? R_OK : R_OK | W_OK) < 0)
            return vk_error(-errno, "%s: disk '%s': %s: %s", who, d->spec ? d->spec : d->vdev,
                            d->target, strerror(errno));
    }
    return 0;
}
