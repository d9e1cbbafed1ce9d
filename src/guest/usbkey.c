/* Building the multi-ISO USB key (contract in guest/usbkey.h): read every
 * ISO's menu, then create the image under a temporary name, partition it,
 * make FAT32, copy the ISOs, write grub.cfg, install GRUB for BIOS, and
 * only then give it its name. */
#include "guest/usbkey.h"

#include "block/blockdev.h"
#include "boot/grub_install.h"
#include "fs/fs.h"
#include "part/part.h"
#include "util/err.h"
#include "util/size.h"

#include <errno.h>
#include <strings.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1ull << 20)
/* GRUB's modules (about 3 MiB) and config, FAT32's tables and the 1 MiB
 * before the partition, with slack; FAT32 wants at least 65525 clusters. */
#define KEY_EXTRA (48 * MIB)
#define KEY_MIN (64 * MIB)

static void say(const struct vk_usbkey_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const struct vk_usbkey_opts *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->progress(buf, o->ctx);
}

/* One ISO being put on the key. */
struct iso {
    const char *host;
    char file[300];             /* "/isos/NAME" */
    uint64_t size;
    struct vk_isomenu m;
};

/* The ISO's name on the key: its host file name, with characters that
 * are not [A-Za-z0-9._+~-] turned into '_' (the path reaches kernel
 * command lines, where a space would split it). */
static int key_name(const char *host, char *buf, size_t len)
{
    const char *b = strrchr(host, '/');
    b = b ? b + 1 : host;
    if (!*b || strlen(b) > 200)
        return vk_error(-EINVAL, "%s: not a usable ISO file name", host);
    snprintf(buf, len, "/isos/%s", b);
    for (char *c = buf + 6; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+~-", *c))
            *c = '_';
    if (buf[6] == '.' || buf[6] == '-')
        buf[6] = '_';
    return 0;
}

static int read_isos(const struct vk_usbkey_opts *o, struct iso *v, uint64_t *total)
{
    *total = 0;
    for (unsigned i = 0; i < o->n_isos; i++) {
        struct iso *s = &v[i];
        s->host = o->isos[i];
        struct stat st;
        if (stat(s->host, &st) < 0)
            return vk_error(-errno, "%s: %s", s->host, strerror(errno));
        if (!S_ISREG(st.st_mode))
            return vk_error(-EINVAL, "%s: not a regular file", s->host);
        s->size = (uint64_t)st.st_size;
        *total += (s->size + MIB - 1) / MIB * MIB;
        int r = key_name(s->host, s->file, sizeof s->file);
        for (unsigned j = 0; r == 0 && j < i; j++)
            if (!strcasecmp(v[j].file, s->file))   /* FAT names ignore case */
                r = vk_error(-EEXIST, "%s and %s: both would be %s on the key", v[j].host,
                             s->host, s->file);
        if (r < 0)
            return r;
        say(o, "reading the boot menu of %s", s->host);
        if ((r = vk_isomenu_read(s->host, NULL, 0, s->host, &s->m)) < 0)
            return r;
        say(o, "  %s: '%s' (%s, from %s)", s->file, s->m.title, s->m.kernel, s->m.config);
    }
    return 0;
}

/* Copy the host file host into path of fs. */
static int copy_file(struct vk_fs *fs, const char *host, const char *path)
{
    int fd = open(host, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", host, strerror(errno));
    struct vk_file *f;
    int r = vk_fs_open(fs, path, VK_O_WRONLY | VK_O_CREAT | VK_O_EXCL, 0644, &f);
    if (r < 0) {
        close(fd);
        return r;
    }
    size_t bs = 4 * MIB;
    char *buf = malloc(bs);
    uint64_t off = 0;
    if (!buf)
        r = vk_error(-ENOMEM, "out of memory");
    while (r == 0) {
        ssize_t n = pread(fd, buf, bs, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            r = vk_error(-errno, "%s: %s", host, strerror(errno));
        if (n <= 0)
            break;
        int64_t w = vk_fs_write(f, buf, (size_t)n, off);
        if (w < 0)
            r = (int)w;
        off += (uint64_t)n;
    }
    free(buf);
    close(fd);
    int c = vk_fs_close_file(f);
    return r < 0 ? r : c;
}

/* Partition 1 of bd: FAT32 with the ISOs and grub.cfg. */
static int fill(const struct vk_usbkey_opts *o, struct vk_blockdev *bd, const char *name,
                const struct vk_part *p, const struct iso *v)
{
    char pname[4200];
    snprintf(pname, sizeof pname, "%s:1", name);
    struct vk_blockdev *s = NULL;
    struct vk_fs *fs = NULL;
    struct vk_mkfs_opts mo = { .type = "vfat", .label = "VMKIT-USB", .fat_bits = 32,
                               .reserved_pct = -1 };
    int r = vk_slice_open(bd, p->start * VK_SECTOR, p->size * VK_SECTOR, pname, false, &s);
    if (r == 0) {
        say(o, "making FAT32 on %s (%llu MiB)", pname,
            (unsigned long long)(p->size * VK_SECTOR / MIB));
        r = vk_fs_mkfs(s, &mo);
    }
    if (r == 0)
        r = vk_fs_mount(s, true, &fs);
    struct vk_statfs sf;
    if (r == 0 && (r = vk_fs_statfs(fs, &sf)) == 0 && (r = vk_fs_mkdir_p(fs, "/isos", 0755)) == 0)
        r = vk_fs_mkdir_p(fs, "/boot/grub", 0755);
    for (unsigned i = 0; r == 0 && i < o->n_isos; i++) {
        say(o, "copying %s to %s", v[i].host, v[i].file);
        r = copy_file(fs, v[i].host, v[i].file);
    }
    struct vk_usbkey_iso *ki = r == 0 ? calloc(o->n_isos, sizeof *ki) : NULL;
    if (r == 0 && !ki)
        r = vk_error(-ENOMEM, "out of memory");
    for (unsigned i = 0; r == 0 && i < o->n_isos; i++)
        ki[i] = (struct vk_usbkey_iso){ .file = v[i].file, .m = &v[i].m };
    char *text = NULL;
    int timeout = o->timeout == 0 && !o->timeout_set ? 10 : o->timeout;
    if (r == 0 && (r = vk_usbkey_config(ki, o->n_isos, sf.uuid, timeout, o->append, &text)) == 0)
        r = vk_fs_write_file(fs, "/boot/grub/grub.cfg", text, strlen(text), 0644);
    free(text);
    free(ki);
    if (fs) {
        int u = vk_fs_unmount(fs);
        if (r == 0)
            r = u;
    }
    vk_bd_close(s);
    return r;
}

/* The image at tmp (named name in messages): MBR, FAT32, GRUB. */
static int make_key(const struct vk_usbkey_opts *o, const char *tmp, const char *fmt,
                    const struct iso *v)
{
    struct vk_blockdev *bd;
    int r = vk_bd_open(tmp, fmt, VK_OPEN_RDWR | VK_OPEN_BULK, &bd);
    if (r < 0)
        return r;
    struct vk_ptable t;
    memset(&t, 0, sizeof t);
    unsigned num = 0;
    struct vk_part_req req = { .type = "fat32", .bootable = true };
    if ((r = vk_ptable_init(bd, &t, VK_LABEL_MBR, false)) == 0 &&
        (r = vk_part_add(&t, &req, o->out, &num)) == 0)
        r = vk_ptable_write(bd, &t);
    struct vk_part *p = r == 0 ? vk_ptable_find(&t, num) : NULL;
    if (r == 0 && !p)
        r = vk_error(-EIO, "%s: partition %u vanished", o->out, num);
    if (r == 0)
        r = fill(o, bd, o->out, p, v);
    if (r == 0) {
        say(o, "installing GRUB for BIOS");
        struct vk_grub_opts go = { .timeout = 1, .timeout_set = true };
        struct vk_grub_result res;
        r = vk_grub_install(bd, num, &go, &res);
        if (r == 0 && !res.config_kept)
            r = vk_error(-EIO, "%s: install-grub replaced the key's grub.cfg", o->out);
    }
    vk_ptable_free(&t);
    int c = vk_bd_close(bd);
    return r < 0 ? r : c;
}

/* Contract in guest/usbkey.h. */
int vk_usbkey_build(const struct vk_usbkey_opts *o)
{
    if (!o->n_isos)
        return vk_error(-EINVAL, "%s: no ISO given (--iso FILE)", o->out);
    const char *fmt = o->format ? o->format : "raw";
    struct stat st;
    if (lstat(o->out, &st) == 0)
        return vk_error(-EEXIST, "%s: already exists; not overwriting it", o->out);
    struct iso *v = calloc(o->n_isos, sizeof *v);
    if (!v)
        return vk_error(-ENOMEM, "out of memory");
    uint64_t total;
    int r = read_isos(o, v, &total);
    uint64_t need = total + total / 64 + KEY_EXTRA;
    if (need < KEY_MIN)
        need = KEY_MIN;
    if (r == 0 && o->size && o->size < need) {
        char a[32], b[32];
        vk_human_size(o->size, a, sizeof a);
        vk_human_size(need, b, sizeof b);
        r = vk_error(-ENOSPC, "%s: --size %s is too small for %u ISO(s): needs at least %s",
                     o->out, a, o->n_isos, b);
    }
    char *tmp = NULL;
    if (r == 0) {
        struct vk_create_opts co = { .size = o->size ? o->size : (need + MIB - 1) / MIB * MIB };
        say(o, "creating %s (%llu MiB)", o->out, (unsigned long long)(co.size / MIB));
        r = vk_bd_create_tmp(o->out, fmt, &co, &tmp);
    }
    if (r == 0)
        r = make_key(o, tmp, fmt, v);
    if (r == 0)
        r = vk_publish(tmp, o->out);
    else if (tmp)
        unlink(tmp);
    free(tmp);
    for (unsigned i = 0; i < o->n_isos; i++)
        vk_isomenu_free(&v[i].m);
    free(v);
    return r;
}
