/* vmkit snapshot: QMP snapshot jobs for a running VM, qemu-img for a
 * stopped one (contract in snapshot.h). */
#include "vm/snapshot.h"
#include "vm/clone.h"
#include "vm/migstream.h"
#include "vm/qmp.h"
#include "vm/runtime.h"
#include "vm/store.h"
#include "util/err.h"
#include "util/run.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JOB_WAIT_MS (30 * 60 * 1000)   /* RAM goes to the disk: TCG, big guests */
#define JOB_ID "vmkit-snapshot"

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* A disk a snapshot covers: written by the guest, not a CD, local. */
static int snap_disk(const struct vk_diskspec *d)
{
    return d->target && *d->target && !d->cdrom && !d->readonly && !d->network;
}

/* SnapshotInfo objects (QMP query-block's, qemu-img info's) into *out. */
static int parse_snaps(json_t *arr, struct vk_snapinfo **out)
{
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    *out = NULL;
    if (!n)
        return 0;
    struct vk_snapinfo *v = calloc(n, sizeof *v);
    if (!v)
        return vk_error(-ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *nm = json_string_value(json_object_get(o, "name"));
        v[i].id = strdup(id ? id : "");
        v[i].name = strdup(nm ? nm : "");
        if (!v[i].id || !v[i].name) {
            vk_snapinfo_free(v, (int)n);
            return vk_error(-ENOMEM, "out of memory");
        }
        v[i].vm_state_size = (uint64_t)json_integer_value(json_object_get(o, "vm-state-size"));
        v[i].date_sec = json_integer_value(json_object_get(o, "date-sec"));
        v[i].vm_clock_ns = json_integer_value(json_object_get(o, "vm-clock-sec")) * 1000000000LL +
                           json_integer_value(json_object_get(o, "vm-clock-nsec"));
    }
    *out = v;
    return (int)n;
}

/* Contract in snapshot.h. */
void vk_snapinfo_free(struct vk_snapinfo *s, int n)
{
    for (int i = 0; s && i < n; i++) {
        free(s[i].id);
        free(s[i].name);
    }
    free(s);
}

/* ---- running VM: QMP ---------------------------------------------- */

/* The writable disks' format node names (query-block), into nodes (an
 * array the caller frees); the first is where the VM state goes.
 * Refuses a writable disk that is not qcow2.  snaps (may be NULL) gets
 * the first disk's snapshot list. */
static int qmp_disks(struct vk_qmp *q, const char *vm, json_t **nodes, json_t **snaps)
{
    json_t *blk;
    int err = vk_qmp_execute(q, "query-block", NULL, &blk, VK_QMP_WAIT_MS);
    if (err)
        return vk_error_prefix(err, "%s: ", vm);
    *nodes = json_array();
    size_t i;
    json_t *b;
    json_array_foreach(blk, i, b) {
        json_t *ins = json_object_get(b, "inserted");
        if (!ins || json_is_true(json_object_get(ins, "ro")))
            continue;     /* an empty or read-only drive, a CD */
        const char *dev = json_string_value(json_object_get(b, "device"));
        const char *file = json_string_value(json_object_get(ins, "file"));
        const char *drv = json_string_value(json_object_get(ins, "drv"));
        const char *node = json_string_value(json_object_get(ins, "node-name"));
        if (!drv || strcmp(drv, "qcow2")) {
            err = vk_error(-ENOTSUP, "%s: disk %s (%s) is %s: internal snapshots need qcow2 "
                           "disks (vmkit img convert -O qcow2)", vm, dev ? dev : "?",
                           file ? file : "?", drv ? drv : "of an unknown format");
            break;
        }
        if (!node) {
            err = vk_error(-EPROTO, "%s: QEMU names no node for disk %s", vm, dev ? dev : "?");
            break;
        }
        if (snaps && json_array_size(*nodes) == 0) {
            json_t *img = json_object_get(ins, "image");
            *snaps = json_incref(json_object_get(img, "snapshots"));
        }
        json_array_append_new(*nodes, json_string(node));
    }
    if (!err && json_array_size(*nodes) == 0)
        err = vk_error(-ENOTSUP, "%s: no writable disk to hold a snapshot", vm);
    json_decref(blk);
    if (err) {
        json_decref(*nodes);
        *nodes = NULL;
        if (snaps) {
            json_decref(*snaps);
            *snaps = NULL;
        }
    }
    return err;
}

/* Run a snapshot job (snapshot-save/-load/-delete) to its end: its error
 * becomes ours; the job is dismissed either way. */
static int run_job(struct vk_qmp *q, const char *vm, const char *cmd, json_t *args)
{
    json_object_set_new(args, "job-id", json_string(JOB_ID));
    int err = vk_qmp_execute(q, cmd, args, NULL, VK_QMP_WAIT_MS);
    if (err)
        return vk_error_prefix(err, "%s: ", vm);
    long long end = now_ms() + JOB_WAIT_MS;
    for (;;) {
        json_t *jobs, *j, *mine = NULL;
        size_t i;
        if ((err = vk_qmp_execute(q, "query-jobs", NULL, &jobs, VK_QMP_WAIT_MS)) < 0)
            return vk_error_prefix(err, "%s: ", vm);
        json_array_foreach(jobs, i, j)
            if (!strcmp(json_string_value(json_object_get(j, "id")) ?: "", JOB_ID))
                mine = j;
        const char *st = mine ? json_string_value(json_object_get(mine, "status")) : NULL;
        if (!st) {
            json_decref(jobs);
            return vk_error(-EPROTO, "%s: QEMU lost the %s job", vm, cmd);
        }
        if (!strcmp(st, "concluded")) {
            const char *e = json_string_value(json_object_get(mine, "error"));
            if (e)
                err = vk_error(-EIO, "%s: %s: %s", vm, cmd, e);
            json_decref(jobs);
            json_t *a = json_pack("{s:s}", "id", JOB_ID);
            int e2 = vk_qmp_execute(q, "job-dismiss", a, NULL, VK_QMP_WAIT_MS);
            return err ? err : e2 ? vk_error_prefix(e2, "%s: ", vm) : 0;
        }
        json_decref(jobs);
        if (now_ms() > end)
            return vk_error(-ETIMEDOUT, "%s: %s still running after %d s", vm, cmd,
                            JOB_WAIT_MS / 1000);
        poll(NULL, 0, 20);
    }
}

static int snapshot_running(const char *name, enum vk_snap_op op, const char *tag)
{
    struct vk_vminfo info;
    struct vk_qmp *q;
    int lk, err = vk_vm_qmp_open(name, &info, &lk, &q);
    if (err)
        return err;
    json_t *nodes;
    char before[64], after[64];
    if ((err = vk_qmp_runstate(q, before, sizeof before)) == 0 &&
        (err = qmp_disks(q, name, &nodes, NULL)) == 0) {
        static const char *const cmd[] = { "snapshot-save", "snapshot-load", "snapshot-delete" };
        json_t *args = json_pack("{s:s, s:o}", "tag", tag, "devices", nodes);
        if (op != VK_SNAP_DELETE)
            json_object_set(args, "vmstate", json_array_get(nodes, 0));
        err = run_job(q, name, cmd[op], args);
        /* QEMU 7.2's snapshot-load leaves the VM in restore-vm: a running
         * VM runs on, as after virsh snapshot-revert of a running one */
        int e2 = vk_qmp_runstate(q, after, sizeof after);
        if (!e2 && !strcmp(before, "running") && strcmp(after, "running"))
            e2 = vk_qmp_execute(q, "cont", NULL, NULL, VK_QMP_WAIT_MS);
        if (!err && e2)
            err = vk_error_prefix(e2, "%s: ", name);
    }
    vk_qmp_close(q);
    vk_rt_unlock(lk);
    vk_vminfo_free(&info);
    return err;
}

/* ---- stopped VM: qemu-img ------------------------------------------ */

/* Refuse a writable disk that is not qcow2 (the config's format; qemu-img
 * is told it, never left to probe). */
static int check_qcow2(const struct vk_domcfg *c)
{
    int any = 0;
    for (unsigned i = 0; i < c->n_disks; i++) {
        const struct vk_diskspec *d = &c->disks[i];
        if (!snap_disk(d))
            continue;
        if (!d->format || strcmp(d->format, "qcow2"))
            return vk_error(-ENOTSUP, "%s: disk %s (%s) is %s: internal snapshots need qcow2 "
                            "disks (vmkit img convert -O qcow2)", c->name, d->vdev, d->target,
                            d->format ? d->format : "raw");
        any = 1;
    }
    return any ? 0 : vk_error(-ENOTSUP, "%s: no writable disk to hold a snapshot", c->name);
}

/* qemu-img snapshot FLAG TAG on disk d, opened as qcow2 (qemu-img
 * snapshot has no -f: --image-opts, with QEMU's ',' escaped as ',,'). */
static int qemu_img_snap(const struct vk_domcfg *c, const struct vk_diskspec *d,
                         const char *flag, const char *tag)
{
    static const char pre[] = "driver=qcow2,file.driver=file,file.filename=";
    size_t n = strlen(d->target);
    char *opts = malloc(sizeof pre + 2 * n), *p;
    if (!opts)
        return vk_error(-ENOMEM, "out of memory");
    p = stpcpy(opts, pre);
    for (size_t i = 0; i < n; i++)
        if ((*p++ = d->target[i]) == ',')
            *p++ = ',';
    *p = 0;
    const char *argv[] = { "qemu-img", "snapshot", "--image-opts", flag, tag, opts, NULL };
    char out[512];
    int err = vk_run(argv, NULL, out, sizeof out);
    free(opts);
    return err ? vk_error_prefix(err, "%s: disk %s (%s): ", c->name, d->vdev, d->target) : 0;
}

static int snapshot_stopped(struct vk_domcfg *c, enum vk_snap_op op, const char *tag)
{
    int err = check_qcow2(c);
    if (err || (op != VK_SNAP_DELETE && (err = vk_domcfg_check_backing(c)) < 0))
        return err;
    /* every disk must have it (create: none may) before any is changed;
     * qemu-img snapshot -c itself would make a second snapshot of the name */
    for (unsigned i = 0; i < c->n_disks && !err; i++) {
        if (!snap_disk(&c->disks[i]))
            continue;
        const char *argv[] = { "qemu-img", "info", "-f", "qcow2", "--output=json",
                               c->disks[i].target, NULL };
        int st;
        char *out = NULL;
        if ((err = vk_run_capture(argv, NULL, &st, &out)) < 0)
            break;
        json_t *j = st == 0 ? json_loads(out, 0, NULL) : NULL;
        int found = 0;
        size_t k;
        json_t *s;
        json_array_foreach(json_object_get(j, "snapshots"), k, s)
            found |= !strcmp(json_string_value(json_object_get(s, "name")) ?: "", tag);
        if (!j)
            err = vk_error(-EIO, "%s: disk %s (%s): qemu-img info failed: %s", c->name,
                           c->disks[i].vdev, c->disks[i].target, out ? out : "");
        else if (op == VK_SNAP_CREATE && found)
            err = vk_error(-EEXIST, "%s: disk %s (%s) already has a snapshot '%s'", c->name,
                           c->disks[i].vdev, c->disks[i].target, tag);
        else if (op != VK_SNAP_CREATE && !found)
            err = vk_error(-ENOENT, "%s: disk %s (%s) has no snapshot '%s'", c->name,
                           c->disks[i].vdev, c->disks[i].target, tag);
        json_decref(j);
        free(out);
    }
    static const char *const flag[] = { "-c", "-a", "-d" };
    unsigned done = 0;
    for (unsigned i = 0; i < c->n_disks && !err; i++, done = i)
        if (snap_disk(&c->disks[i]))
            err = qemu_img_snap(c, &c->disks[i], flag[op], tag);
    if (err && op == VK_SNAP_CREATE)   /* take back the half-made snapshot */
        for (unsigned i = 0; i < done; i++)
            if (snap_disk(&c->disks[i]) && qemu_img_snap(c, &c->disks[i], "-d", tag) < 0)
                vk_warn("%s", vk_errmsg());
    return err;
}

/* A defined VM that is not running: its config into *c (1), or 0 when it
 * runs (or has a runtime directory), or a negative errno. */
static int stopped_cfg(const char *name, struct vk_domcfg *c)
{
    struct vk_vminfo info;
    int err = vk_rt_info(name, 0, &info);
    if (err == 0) {
        vk_vminfo_free(&info);
        return 0;
    }
    if (err != -ENOENT)
        return err;
    vk_error_clear();
    if ((err = vk_store_load(name, c)) < 0)
        return err == -ENOENT ? vk_error(-ENOENT, "%s: no such VM", name) : err;
    return 1;
}

/* Contract in snapshot.h. */
int vk_vm_snapshot(const char *name, enum vk_snap_op op, const char *tag)
{
    if (!*tag || strlen(tag) > 255)
        return vk_error(-EINVAL, "'%s': a snapshot name has 1 to 255 bytes", tag);
    struct vk_domcfg c;
    int err = stopped_cfg(name, &c);
    if (err < 0)
        return err;
    if (err == 0)
        return snapshot_running(name, op, tag);
    err = snapshot_stopped(&c, op, tag);
    vk_domcfg_free(&c);
    return err;
}

/* Contract in snapshot.h. */
int vk_vm_snapshot_list(const char *name, struct vk_snapinfo **out)
{
    struct vk_domcfg c;
    json_t *snaps = NULL;
    int err = stopped_cfg(name, &c);
    if (err < 0)
        return err;
    if (err == 0) {
        struct vk_vminfo info;
        struct vk_qmp *q;
        json_t *nodes;
        int lk;
        if ((err = vk_vm_qmp_open(name, &info, &lk, &q)) < 0)
            return err;
        if ((err = qmp_disks(q, name, &nodes, &snaps)) == 0)
            json_decref(nodes);
        vk_qmp_close(q);
        vk_rt_unlock(lk);
        vk_vminfo_free(&info);
    } else {
        if ((err = check_qcow2(&c)) == 0) {
            const struct vk_diskspec *d = c.disks;
            while (!snap_disk(d))
                d++;
            const char *argv[] = { "qemu-img", "info", "-U", "-f", "qcow2", "--output=json",
                                   d->target, NULL };
            char *o = NULL;
            int st;
            if ((err = vk_run_capture(argv, NULL, &st, &o)) == 0) {
                json_t *j = st == 0 ? json_loads(o, 0, NULL) : NULL;
                if (!j)
                    err = vk_error(-EIO, "%s: disk %s (%s): qemu-img info failed: %s", name,
                                   d->vdev, d->target, o ? o : "");
                snaps = json_incref(json_object_get(j, "snapshots"));
                json_decref(j);
            }
            free(o);
        }
        vk_domcfg_free(&c);
    }
    if (!err)
        err = parse_snaps(snaps, out);
    json_decref(snaps);
    return err;
}
