/* vmkit clone and the backing-file guard (contract in clone.h). */
#include "vm/clone.h"
#include "block/blockdev.h"
#include "vm/runtime.h"
#include "vm/store.h"
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A disk vmkit writes for this VM: not a CD, not read-only, a local file. */
static int writable_disk(const struct vk_diskspec *d)
{
    return d->target && *d->target && !d->cdrom && !d->readonly && !d->network;
}

/* 1 when the image at path (format fmt, NULL = probe) has st's file in
 * its backing chain (itself excluded); 0 otherwise, also when it cannot
 * be opened (a missing disk is its own VM's problem). */
static int chain_holds(const char *img, const char *fmt, const struct stat *st)
{
    struct vk_blockdev *bd;
    if (vk_bd_open(img, fmt, VK_OPEN_NOLOCK, &bd) < 0) {
        vk_error_clear();
        return 0;
    }
    int found = 0;
    for (struct vk_blockdev *b = bd->backing; b && !found; b = b->backing) {
        struct stat bs;
        found = stat(b->name, &bs) == 0 && bs.st_dev == st->st_dev && bs.st_ino == st->st_ino;
    }
    vk_bd_close(bd);
    return found;
}

/* Whether VM cfg (name) has a disk built on st's file: fills msg. */
static int vm_builds_on(const struct vk_domcfg *cfg, const char *what, const char *path,
                        const struct stat *st)
{
    for (unsigned i = 0; i < cfg->n_disks; i++) {
        const struct vk_diskspec *d = &cfg->disks[i];
        if (!d->target || !*d->target || d->network)
            continue;
        const char *fmt = d->format && vk_format_by_name(d->format) ? d->format : NULL;
        if (chain_holds(d->target, fmt, st))
            return vk_error(-EBUSY, "%s: it is the backing file of %s VM '%s' (disk %s: %s); "
                            "writing it would change that VM's disk", path, what, cfg->name,
                            d->vdev ? d->vdev : "?", d->target);
    }
    return 0;
}

/* Contract in clone.h. */
int vk_disk_check_backing(const char *path, const char *self)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return 0;
    char **names;
    int n = vk_store_list(&names), err = 0;
    if (n < 0)
        return n;
    for (int i = 0; i < n && !err; i++) {
        if (self && !strcmp(names[i], self))
            continue;
        struct vk_domcfg c;
        if (vk_store_load(names[i], &c) < 0) {
            vk_error_clear();     /* a broken config is not ours to judge here */
            continue;
        }
        err = vm_builds_on(&c, "the defined", path, &st);
        vk_domcfg_free(&c);
    }
    vk_store_list_free(names, n);
    struct vk_vminfo *v;
    n = err ? 0 : vk_rt_list(0, &v);
    if (n < 0)
        return n;
    for (int i = 0; i < n && !err; i++)
        if (!self || strcmp(v[i].name, self))
            err = vm_builds_on(&v[i].cfg, "the running", path, &st);
    if (n > 0)
        vk_vminfo_list_free(v, n);
    return err;
}

/* Contract in clone.h. */
int vk_domcfg_check_backing(const struct vk_domcfg *c)
{
    for (unsigned i = 0; i < c->n_disks; i++) {
        if (!writable_disk(&c->disks[i]))
            continue;
        int err = vk_disk_check_backing(c->disks[i].target, c->name);
        if (err)
            return vk_error_prefix(err, "%s: disk %s: ", c->name, c->disks[i].vdev);
    }
    return 0;
}

/* The clone's file for the source disk at path: the source VM's name in
 * the file name replaced by the clone's, else "-DST" before the
 * extension.  ext, when not NULL, is added after the extension (a linked
 * clone's overlay of a raw disk.img is a disk.img.qcow2: not a .img that
 * is no raw image, and not the name of the overlay of a disk.qcow2 next
 * to it).  malloc'd or NULL. */
static char *clone_path(const char *path, const char *src, const char *dst, const char *ext)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)
        dot = base + strlen(base);
    const char *hit = strstr(base, src);
    if (hit && hit + strlen(src) > dot)
        hit = NULL;       /* the name only in the extension: not a match */
    const char *tail = ext ? ext : "";
    char *out = NULL;
    int n;
    if (hit)
        n = asprintf(&out, "%.*s%s%s%s", (int)(hit - path), path, dst, hit + strlen(src), tail);
    else
        n = asprintf(&out, "%.*s-%s%s%s", (int)(dot - path), path, dst, dot, tail);
    return n < 0 ? NULL : out;
}

/* The extension clone_path puts on d's new file (NULL: the source's). */
static const char *clone_ext(const struct vk_diskspec *d, const struct vk_clone_opts *o)
{
    return o && o->linked && !(d->format && !strcmp(d->format, "qcow2")) ? ".qcow2" : NULL;
}

/* A sparse copy of src (format fmt) as a new image dst of the same format
 * (qcow2 keeps its cluster size), built under a temporary name. */
static int copy_disk(const char *src, const char *fmt, const char *dst,
                     const struct vk_clone_opts *o)
{
    struct vk_blockdev *in;
    int err = vk_bd_open(src, fmt, 0, &in);
    if (err)
        return err;
    struct vk_imginfo ii = { 0 };
    vk_bd_info(in, &ii);
    struct vk_create_opts co = { .size = in->size };
    const char *ofmt = in->format ? in->format->name : "raw";
    if (!strcmp(ofmt, "qcow2"))
        co.cluster_size = ii.cluster_size;
    struct vk_copy_opts cp = { .progress = o->progress, .progress_ctx = o->progress_ctx };
    err = vk_img_copy_new(in, dst, ofmt, &co, &cp);
    vk_bd_close(in);
    return err;
}

/* A qcow2 overlay at dst over src (absolute path, format fmt). */
static int overlay_disk(const char *src, const char *fmt, const char *dst)
{
    struct vk_blockdev *in;
    int err = vk_bd_open(src, fmt, VK_OPEN_NOLOCK | VK_OPEN_NOBACKING, &in);
    if (err)
        return err;
    char *abs = realpath(src, NULL);
    struct vk_create_opts co = { .size = in->size, .backing_file = abs,
                                 .backing_format = in->format ? in->format->name : "raw" };
    err = abs ? vk_bd_create(dst, "qcow2", &co) : vk_error(-errno, "%s: %s", src, strerror(errno));
    vk_bd_close(in);
    free(abs);
    return err;
}

/* New name; no uuid and no MACs, so vk_domcfg_check generates them
 * (xl's rules; a config without vif= gets its one NIC written out). */
static int new_identity(struct vk_domcfg *c, const char *dst)
{
    char *n = strdup(dst);
    if (!n)
        return vk_error(-ENOMEM, "out of memory");
    free(c->name);
    c->name = n;
    free(c->uuid);
    c->uuid = NULL;
    for (unsigned i = 0; i < c->n_vifs; i++) {
        free(c->vifs[i].mac);
        c->vifs[i].mac = NULL;
    }
    return 0;
}

/* Contract in clone.h. */
int vk_vm_clone(const char *src, const char *dst, const struct vk_clone_opts *o)
{
    struct vk_domcfg c;
    struct vk_vminfo info;
    int err = vk_store_load(src, &c);
    if (err)
        return err;
    char **made = calloc(c.n_disks + 1, sizeof *made);
    if (!made) {
        vk_domcfg_free(&c);
        return vk_error(-ENOMEM, "out of memory");
    }
    if ((err = vk_rt_info(src, 0, &info)) == 0) {
        vk_vminfo_free(&info);
        err = vk_error(-EBUSY, "%s: VM is running; shut it down before cloning", src);
        goto out;
    }
    if (err != -ENOENT)
        goto out;
    vk_error_clear();
    struct vk_domcfg other;
    if (!vk_name_valid(dst)) {
        err = vk_error(-EINVAL, "'%s' is not a valid domain name", dst);
        goto out;
    }
    if ((err = vk_store_load(dst, &other)) == 0) {
        vk_domcfg_free(&other);
        err = vk_error(-EEXIST, "%s: a VM of that name is already defined", dst);
        goto out;
    }
    if (err != -ENOENT)
        goto out;
    if ((err = vk_rt_info(dst, 0, &info)) == 0) {
        vk_vminfo_free(&info);
        err = vk_error(-EEXIST, "%s: a VM of that name is already running", dst);
        goto out;
    }
    if (err != -ENOENT)
        goto out;
    vk_error_clear();
    if ((err = new_identity(&c, dst)) < 0 || (err = vk_domcfg_validate_disks(&c)) < 0)
        goto out;
    /* every new file's name first: refuse before anything is written */
    for (unsigned i = 0; i < c.n_disks; i++) {
        struct stat st;
        if (!writable_disk(&c.disks[i]))
            continue;
        char *p = clone_path(c.disks[i].target, src, dst, clone_ext(&c.disks[i], o));
        if (!p) {
            err = vk_error(-ENOMEM, "out of memory");
            goto out;
        }
        if (lstat(p, &st) == 0) {
            err = vk_error(-EEXIST, "%s: file exists (the clone's disk %s); remove it first", p,
                           c.disks[i].vdev);
            free(p);
            goto out;
        }
        free(p);
    }
    for (unsigned i = 0; i < c.n_disks && !err; i++) {
        struct vk_diskspec *d = &c.disks[i];
        if (!writable_disk(d))
            continue;
        char *p = clone_path(d->target, src, dst, clone_ext(d, o));
        const char *fmt = d->format ? d->format : "raw";   /* xl's default */
        if (!p)
            err = vk_error(-ENOMEM, "out of memory");
        else if (o && o->linked)
            err = overlay_disk(d->target, fmt, p);
        else
            err = copy_disk(d->target, fmt, p, o ? o : &(struct vk_clone_opts){ 0 });
        if (err) {
            free(p);
            break;
        }
        made[i] = p;
        if (o && o->linked) {
            char *f = strdup("qcow2");
            if (!f) {
                err = vk_error(-ENOMEM, "out of memory");
                break;
            }
            free(d->format);
            d->format = f;
        }
        char *t = strdup(p);
        if (!t) {
            err = vk_error(-ENOMEM, "out of memory");
            break;
        }
        free(d->target);
        d->target = t;
    }
    if (!err && !(err = vk_domcfg_check(&c)))
        err = vk_store_define(&c);
out:
    for (unsigned i = 0; i < c.n_disks; i++) {
        if (err && made[i])
            unlink(made[i]);
        free(made[i]);
    }
    free(made);
    vk_domcfg_free(&c);
    return err;
}
