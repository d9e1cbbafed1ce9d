/* vmkit migrate --copy-storage: drive-mirror to the receiver's NBD export
 * (contract in migcopy.h). */
#include "vm/migcopy.h"
#include "vm/qemu_args.h"
#include "util/err.h"
#include "util/run.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READY_MS     600000   /* a full copy of the disks under TCG load */
#define CANCEL_MS    60000

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A disk the copy takes: an image, writable, not a CD-ROM. */
static int copyable(const struct vk_diskspec *d)
{
    return d->target && !d->readonly && !d->cdrom && !d->network;
}

/* QEMU's block device whose image is path: its name (or, with node, its
 * top node's name: what block-export-add takes) into dev, its virtual
 * size into *size (may be NULL). */
static int find_dev(struct vk_qmp *q, const char *path, int node, char *dev, size_t len,
                    uint64_t *size)
{
    json_t *ret = NULL, *b;
    size_t i;
    int err = vk_qmp_execute(q, "query-block", NULL, &ret, VK_QMP_WAIT_MS);
    if (err)
        return err;
    err = vk_error(-ENOENT, "%s: QEMU has no drive with this image", path);
    json_array_foreach(ret, i, b) {
        json_t *ins = json_object_get(b, "inserted");
        const char *file = json_string_value(json_object_get(ins, "file"));
        const char *name = json_string_value(json_object_get(node ? ins : b,
                                                             node ? "node-name" : "device"));
        json_t *vs = json_object_get(json_object_get(ins, "image"), "virtual-size");
        if (!file || !name || strcmp(file, path) || strlen(name) >= len)
            continue;
        if (size && !json_is_integer(vs))
            continue;
        snprintf(dev, len, "%s", name);
        if (size)
            *size = (uint64_t)json_integer_value(vs);
        vk_error_clear();
        err = 0;
        break;
    }
    json_decref(ret);
    return err;
}

/* Contract in migcopy.h. */
int vk_copy_collect(struct vk_qmp *q, const struct vk_domcfg *cfg, json_t *meta,
                    struct vk_copyset *cs)
{
    memset(cs, 0, sizeof *cs);
    cs->j = calloc(cfg->n_disks ? cfg->n_disks : 1, sizeof *cs->j);
    json_t *arr = json_array();
    if (!cs->j || !arr) {
        json_decref(arr);
        return vk_error(-ENOMEM, "out of memory");
    }
    int err = 0;
    for (unsigned i = 0; i < cfg->n_disks && !err; i++) {
        const struct vk_diskspec *d = &cfg->disks[i];
        struct vk_copyjob *j = &cs->j[cs->n];
        if (!copyable(d))
            continue;
        if (strlen(d->vdev) >= sizeof j->vdev)
            err = vk_error(-EINVAL, "disk %s: vdev too long to copy", d->vdev);
        else
            err = find_dev(q, d->target, 0, j->dev, sizeof j->dev, &j->size);
        if (err)
            break;
        snprintf(j->vdev, sizeof j->vdev, "%s", d->vdev);
        json_array_append_new(arr, json_pack("{s:s, s:I}", "vdev", j->vdev, "size",
                                             (json_int_t)j->size));
        cs->n++;
    }
    if (!err && !cs->n)
        err = vk_error(-EINVAL, "%s: no writable disk to copy (--copy-storage)", cfg->name);
    if (err) {
        json_decref(arr);
        vk_copyset_free(cs);
        return err;
    }
    json_object_set_new(meta, "copy", arr);
    return 0;
}

static void job_id(const struct vk_copyjob *j, char *id, size_t len)
{
    snprintf(id, len, "vmkit-copy-%s", j->vdev);
}

/* Contract in migcopy.h. */
int vk_copy_mirror(struct vk_qmp *q, struct vk_copyset *cs, const char *sock, const char *host,
                   int port, const char *tls, const char *tls_host)
{
    char id[64], node[80], ps[16];
    const char *at = strrchr(host, '@');
    host = at ? at + 1 : host;
    snprintf(ps, sizeof ps, "%d", port);
    int err = 0;
    for (int i = 0; i < cs->n && !err; i++) {
        struct vk_copyjob *j = &cs->j[i];
        job_id(j, id, sizeof id);
        snprintf(node, sizeof node, "%s-nbd", id);
        /* the export as a node of its own (not a drive-mirror URI): it
         * takes TLS credentials */
        json_t *server = port ? json_pack("{s:s, s:s, s:s}", "type", "inet", "host", host, "port", ps)
                              : json_pack("{s:s, s:s}", "type", "unix", "path", sock);
        json_t *nbd = json_pack("{s:s, s:s, s:o, s:s}", "driver", "nbd", "node-name", node,
                                "server", server, "export", j->vdev);
        if (tls) {
            json_object_set_new(nbd, "tls-creds", json_string(tls));
            json_object_set_new(nbd, "tls-hostname", json_string(tls_host));
        }
        if ((err = vk_qmp_execute(q, "blockdev-add", nbd, NULL, VK_QMP_WAIT_MS)) < 0)
            return vk_error_prefix(err, "disk %s: connecting to its copy: ", j->vdev);
        j->started = 1;   /* the node at least: vk_copy_finish removes it */
        err = vk_qmp_execute(q, "blockdev-mirror",
                             json_pack("{s:s, s:s, s:s, s:s}", "job-id", id, "device", j->dev,
                                       "target", node, "sync", "full"), NULL, VK_QMP_WAIT_MS);
        if (err)
            return vk_error_prefix(err, "disk %s: starting its copy: ", j->vdev);
    }
    long long end = now_ms() + READY_MS;
    for (int i = 0; i < cs->n;) {
        job_id(&cs->j[i], id, sizeof id);
        int r = vk_qmp_block_job_state(q, id);
        if (r == -ENOENT)
            return vk_error(-EIO, "disk %s: its copy stopped before it was complete (the NBD "
                            "connection broke, or see the VM's QEMU log)", cs->j[i].vdev);
        if (r < 0)
            return r;
        if (r == 1) {
            i++;
            continue;
        }
        if (now_ms() >= end)
            return vk_error(-ETIMEDOUT, "disk %s: its copy did not catch up in %d s",
                            cs->j[i].vdev, READY_MS / 1000);
        poll(NULL, 0, 50);
    }
    return 0;
}

/* Contract in migcopy.h. */
int vk_copy_finish(struct vk_qmp *q, struct vk_copyset *cs, int force)
{
    char id[64];
    int err = 0;
    for (int i = 0; i < cs->n; i++) {
        struct vk_copyjob *j = &cs->j[i];
        if (!j->started)
            continue;
        job_id(j, id, sizeof id);
        /* cancelled when ready, a mirror leaves the target consistent */
        int e = vk_qmp_execute(q, "block-job-cancel", json_pack("{s:s, s:b}", "device", id,
                                                                "force", force), NULL,
                               VK_QMP_WAIT_MS);
        if (e && !force && !err)
            err = vk_error_prefix(e, "disk %s: ending its copy: ", j->vdev);
        long long end = now_ms() + CANCEL_MS;
        int r;
        while ((r = vk_qmp_block_job_state(q, id)) >= 0 && now_ms() < end)
            poll(NULL, 0, 20);
        if (r != -ENOENT && !force && !err)
            err = vk_error(-ETIMEDOUT, "disk %s: its copy did not end", j->vdev);
        char node[80];
        snprintf(node, sizeof node, "%s-nbd", id);
        e = vk_qmp_execute(q, "blockdev-del", json_pack("{s:s}", "node-name", node), NULL,
                           VK_QMP_WAIT_MS);
        if (e && !force && !err)
            err = vk_error_prefix(e, "disk %s: closing its copy: ", j->vdev);
        j->started = 0;
    }
    if (force)
        vk_error_clear();
    return err;
}

/* Contract in migcopy.h. */
void vk_copyset_free(struct vk_copyset *cs)
{
    free(cs->j);
    cs->j = NULL;
    cs->n = 0;
}

/* Contract in migcopy.h. */
void vk_copy_remove(char **list, int rm)
{
    for (char **p = list; p && *p; p++) {
        if (rm)
            unlink(*p);
        free(*p);
    }
    free(list);
}

/* The disk of cfg with vdev v, if it is one the copy takes. */
static struct vk_diskspec *disk_of(struct vk_domcfg *cfg, const char *v)
{
    for (unsigned i = 0; i < cfg->n_disks; i++)
        if (cfg->disks[i].vdev && !strcmp(cfg->disks[i].vdev, v))
            return copyable(&cfg->disks[i]) ? &cfg->disks[i] : NULL;
    return NULL;
}

/* Contract in migcopy.h. */
int vk_copy_create(struct vk_domcfg *cfg, const struct vk_migdisk *d, int n, const char *dir,
                   char ***created)
{
    if (dir && dir[0] != '/')
        return vk_error(-EINVAL, "%s: the storage dir must be an absolute path", dir);
    char **list = calloc((size_t)n + 1, sizeof *list);
    if (!list)
        return vk_error(-ENOMEM, "out of memory");
    int err = 0;
    for (int i = 0; i < n && !err; i++) {
        struct vk_diskspec *ds = disk_of(cfg, d[i].vdev);
        char path[4096], size[32];
        if (!ds) {
            err = vk_error(-EINVAL, "disk %s: not a writable disk image of %s", d[i].vdev,
                           cfg->name);
            break;
        }
        const char *base = strrchr(ds->target, '/');
        base = base ? base + 1 : ds->target;
        if ((err = dir ? vk_pathf(path, sizeof path, "%s/%s", dir, base)
                       : vk_pathf(path, sizeof path, "%s", ds->target)) < 0)
            break;
        /* the name is taken first, so nothing that was there is overwritten */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            err = vk_error(-errno, "%s: %s (the copy of disk %s must be a new file%s)", path,
                           strerror(errno), d[i].vdev,
                           dir ? "" : "; --storage-dir puts it elsewhere");
            break;
        }
        close(fd);
        if (!(list[i] = strdup(path))) {
            unlink(path);
            err = vk_error(-ENOMEM, "out of memory");
            break;
        }
        snprintf(size, sizeof size, "%" PRIu64, d[i].size);
        const char *argv[] = { "qemu-img", "create", "-q", "-f", vk_qemu_format(ds->format),
                               path, size, NULL };
        if ((err = vk_run(argv, NULL, NULL, 0)) < 0) {
            vk_error_prefix(err, "%s: creating the copy of disk %s: ", path, d[i].vdev);
            break;
        }
        char *t = strdup(path);
        if (!t) {
            err = vk_error(-ENOMEM, "out of memory");
            break;
        }
        free(ds->target);
        ds->target = t;
    }
    if (err) {
        vk_copy_remove(list, 1);
        return err;
    }
    *created = list;
    return 0;
}

/* Contract in migcopy.h. */
int vk_copy_export(struct vk_qmp *q, const char *vmdir, const struct vk_domcfg *cfg,
                   const struct vk_migdisk *d, int n, int port, const char *tls, char *sock,
                   size_t len)
{
    int err = 0;
    json_t *addr;
    if (port) {
        char ps[16];
        snprintf(ps, sizeof ps, "%d", port);
        sock[0] = 0;
        addr = json_pack("{s:s, s:{s:s, s:s}}", "type", "inet", "data", "host", "0.0.0.0",
                         "port", ps);
    } else {
        if ((err = vk_pathf(sock, len, "%s/nbd.sock", vmdir)) < 0)
            return err;
        if (strlen(sock) >= 108)
            return vk_error(-ENAMETOOLONG, "%s: path too long for a unix socket", sock);
        unlink(sock);
        addr = json_pack("{s:s, s:{s:s}}", "type", "unix", "data", "path", sock);
    }
    json_t *args = json_pack("{s:o}", "addr", addr);
    if (tls)
        json_object_set_new(args, "tls-creds", json_string(tls));
    if ((err = vk_qmp_execute(q, "nbd-server-start", args, NULL, VK_QMP_WAIT_MS)) < 0)
        return err;
    for (int i = 0; i < n && !err; i++) {
        char dev[64], id[64];
        const struct vk_diskspec *ds = disk_of((struct vk_domcfg *)cfg, d[i].vdev);
        if (!ds) {
            err = vk_error(-EINVAL, "disk %s: not a writable disk image", d[i].vdev);
            break;
        }
        if ((err = find_dev(q, ds->target, 1, dev, sizeof dev, NULL)) < 0)
            break;
        snprintf(id, sizeof id, "vmkit-copy-%s", d[i].vdev);
        err = vk_qmp_execute(q, "block-export-add",
                             json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "nbd", "id", id,
                                       "node-name", dev, "name", d[i].vdev, "writable", 1),
                             NULL, VK_QMP_WAIT_MS);
    }
    if (err) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", vk_errmsg_for(err));
        vk_copy_unexport(q, sock);
        vk_error(err, "%s", keep);
    }
    return err;
}

/* Contract in migcopy.h. */
int vk_copy_unexport(struct vk_qmp *q, const char *sock)
{
    int err = vk_qmp_execute(q, "nbd-server-stop", NULL, NULL, VK_QMP_WAIT_MS);
    if (*sock)
        unlink(sock);   /* QEMU leaves the name behind */
    return err;
}
