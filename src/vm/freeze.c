/* Freezing a running VM's disks for a backup: overlays taken in one QMP
 * transaction, merged back by active block-commit (contract in freeze.h). */
#include "vm/freeze.h"
#include "vm/migstream.h"
#include "util/err.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COMMIT_MS (30 * 60 * 1000)  /* what the guest wrote meanwhile, under TCG */

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* Contract in freeze.h. */
int vk_freeze_disk(const struct vk_diskspec *d)
{
    return d->target && *d->target && !d->cdrom && !d->readonly && !d->network;
}

/* The active image file of QEMU drive dev (query-block), malloc'd into
 * *file; NULL when dev has none. */
static int active_file(struct vk_qmp *q, const char *dev, char **file)
{
    json_t *blk, *b;
    size_t i;
    *file = NULL;
    int err = vk_qmp_execute(q, "query-block", NULL, &blk, VK_QMP_WAIT_MS);
    if (err)
        return err;
    json_array_foreach(blk, i, b) {
        const char *name = json_string_value(json_object_get(b, "device"));
        const char *f = json_string_value(json_object_get(json_object_get(b, "inserted"), "file"));
        if (name && f && !strcmp(name, dev) && !(*file = strdup(f)))
            err = vk_error(-ENOMEM, "out of memory");
    }
    json_decref(blk);
    return err;
}

/* QEMU's drive whose active image is path or path's overlay, into dev;
 * *on_overlay set when it runs on the overlay (a killed backup's). */
static int find_drive(struct vk_qmp *q, const char *vm, const char *path, char *dev, size_t len,
                      int *on_overlay)
{
    json_t *blk, *b;
    size_t i, pl = strlen(path);
    int err = vk_qmp_execute(q, "query-block", NULL, &blk, VK_QMP_WAIT_MS);
    if (err)
        return vk_error_prefix(err, "%s: ", vm);
    err = vk_error(-ENOENT, "%s: QEMU has no drive with the image %s", vm, path);
    json_array_foreach(blk, i, b) {
        const char *name = json_string_value(json_object_get(b, "device"));
        const char *f = json_string_value(json_object_get(json_object_get(b, "inserted"), "file"));
        if (!name || !f || strlen(name) >= len || strncmp(f, path, pl))
            continue;
        if (f[pl] && strcmp(f + pl, VK_FREEZE_SUFFIX))
            continue;
        snprintf(dev, len, "%s", name);
        *on_overlay = f[pl] != 0;
        vk_error_clear();
        err = 0;
        break;
    }
    json_decref(blk);
    return err;
}

/* Merge the overlay on top of drive dev (disk vdev of vm) back into the
 * image below it and wait until QEMU runs on that image again. */
static int commit(struct vk_qmp *q, const char *vm, const char *vdev, const char *dev,
                  const char *image)
{
    char id[64];
    snprintf(id, sizeof id, "vmkit-backup-%s", dev);
    int err = vk_qmp_execute(q, "block-commit", json_pack("{s:s, s:s}", "job-id", id, "device",
                                                          dev), NULL, VK_QMP_WAIT_MS);
    long long end = now_ms() + COMMIT_MS;
    int r = 0, completed = 0;
    while (!err && (r = vk_qmp_block_job_state(q, id)) >= 0) {
        if (r == 1 && !completed) {
            err = vk_qmp_execute(q, "block-job-complete", json_pack("{s:s}", "device", id), NULL,
                                 VK_QMP_WAIT_MS);
            completed = 1;
        } else if (now_ms() >= end) {
            err = vk_error(-ETIMEDOUT, "the merge did not end in %d s", COMMIT_MS / 1000);
        } else {
            poll(NULL, 0, 20);
        }
    }
    if (!err && r != -ENOENT)
        err = r;
    char *file = NULL;
    if (!err && (err = active_file(q, dev, &file)) == 0 && (!file || strcmp(file, image)))
        err = vk_error(-EIO, "the merge failed: QEMU still runs on %s (see the VM's QEMU log)",
                       file ? file : "nothing");
    free(file);
    if (err)
        return vk_error_prefix(err, "%s: disk %s: merging its backup overlay back: ", vm, vdev);
    return 0;
}

static void freeze_free(struct vk_freeze *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->d[i].image);
        free(f->d[i].format);
        free(f->d[i].overlay);
    }
    free(f->d);
    vk_qmp_close(f->q);
    vk_rt_unlock(f->lock);
    vk_vminfo_free(&f->info);
    memset(f, 0, sizeof *f);
}

/* Fill f->d from the config: each disk's drive, its overlay's name; an
 * overlay a killed backup left in use is merged back first. */
static int collect(struct vk_freeze *f, const char *name)
{
    const struct vk_domcfg *c = &f->info.cfg;
    if (!(f->d = calloc(c->n_disks ? c->n_disks : 1, sizeof *f->d)))
        return vk_error(-ENOMEM, "out of memory");
    for (unsigned i = 0; i < c->n_disks; i++) {
        const struct vk_diskspec *d = &c->disks[i];
        if (!vk_freeze_disk(d))
            continue;
        struct vk_frozen_disk *fd = &f->d[f->n++];
        int on_overlay = 0, err;
        snprintf(fd->vdev, sizeof fd->vdev, "%s", d->vdev);
        fd->image = strdup(d->target);
        fd->format = strdup(d->format ? d->format : "raw");
        if (!fd->image || !fd->format ||
            asprintf(&fd->overlay, "%s%s", d->target, VK_FREEZE_SUFFIX) < 0) {
            fd->overlay = NULL;
            return vk_error(-ENOMEM, "out of memory");
        }
        if ((err = find_drive(f->q, name, d->target, fd->dev, sizeof fd->dev, &on_overlay)) < 0)
            return err;
        if (on_overlay && (err = commit(f->q, name, fd->vdev, fd->dev, fd->image)) < 0)
            return err;
        if (access(fd->overlay, F_OK) == 0 && on_overlay && unlink(fd->overlay) < 0)
            return vk_error(-errno, "%s: %s", fd->overlay, strerror(errno));
        if (access(fd->overlay, F_OK) == 0)
            return vk_error(-EEXIST, "%s: disk %s: %s exists and QEMU does not use it (a backup "
                            "was interrupted after its merge?): remove it", name, fd->vdev,
                            fd->overlay);
    }
    if (!f->n)
        return vk_error(-ENOTSUP, "%s: no writable local disk to back up", name);
    return 0;
}

/* Contract in freeze.h. */
int vk_freeze_begin(const char *name, struct vk_freeze *f)
{
    memset(f, 0, sizeof *f);
    f->lock = -1;
    int err = vk_vm_qmp_open(name, &f->info, &f->lock, &f->q);
    if (err) {
        f->lock = -1;
        return err;
    }
    json_t *actions = json_array();
    if ((err = collect(f, name)) == 0 && !actions)
        err = vk_error(-ENOMEM, "out of memory");
    for (int i = 0; !err && i < f->n; i++)
        json_array_append_new(actions, json_pack("{s:s, s:{s:s, s:s, s:s}}", "type",
                                                 "blockdev-snapshot-sync", "data", "device",
                                                 f->d[i].dev, "snapshot-file", f->d[i].overlay,
                                                 "format", "qcow2"));
    if (err) {
        json_decref(actions);
        freeze_free(f);
        return err;
    }
    /* One transaction: every disk at the same instant, or none. */
    err = vk_qmp_execute(f->q, "transaction", json_pack("{s:o}", "actions", actions), NULL,
                         VK_QMP_WAIT_MS);
    if (err) {
        /* QEMU refused (-EIO: its error reply) and so took none; the
         * overlay files did not exist before (collect), so what it left
         * of them is ours.  Without a reply nothing is known: kept. */
        for (int i = 0; err == -EIO && i < f->n; i++)
            unlink(f->d[i].overlay);
        err = vk_error_prefix(err, "%s: freezing the disks: ", name);
        freeze_free(f);
    }
    return err;
}

/* Contract in freeze.h. */
int vk_freeze_end(struct vk_freeze *f)
{
    int err = 0;
    for (int i = 0; i < f->n; i++) {
        struct vk_frozen_disk *d = &f->d[i];
        int e = commit(f->q, f->info.name, d->vdev, d->dev, d->image);
        if (e == 0 && unlink(d->overlay) < 0)
            e = vk_error(-errno, "%s: %s", d->overlay, strerror(errno));
        if (e < 0)
            err = e;        /* the last failure's message is the one kept */
    }
    freeze_free(f);
    return err;
}
