/* backup save NAME: the disks of a VM, a running one frozen at one
 * instant (vm/freeze.h) while they are read (contract in backup.h). */
#include "backup/backup.h"

#include "block/blockdev.h"
#include "util/err.h"
#include "vm/freeze.h"
#include "vm/runtime.h"
#include "vm/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Save image (format fmt) as a snapshot named name, or name-vdev when
 * the VM has several disks, and report it through saved. */
static int save_one(struct vk_bk_repo *r, const char *image, const char *fmt, const char *name,
                    const char *vdev, int ndisks, const struct vk_bk_vm_report *rep)
{
    char sname[256];
    if (ndisks > 1)
        snprintf(sname, sizeof sname, "%s-%s", name, vdev);
    else
        snprintf(sname, sizeof sname, "%s", name);
    struct vk_blockdev *bd;
    int e = vk_bd_open(image, fmt, 0, &bd);
    if (e < 0)
        return e;
    struct vk_bk_snap s;
    e = vk_bk_save_bd(r, bd, image, NULL, sname, rep->progress, rep->pctx, &s);
    vk_bd_close(bd);
    if (e < 0)
        return vk_error_prefix(e, "disk %s: ", vdev);
    if (rep->saved)
        rep->saved(&s, vdev, rep->ctx);
    vk_bk_snap_free(&s);
    return 0;
}

int vk_bk_save_vm(struct vk_bk_repo *r, const char *vm, const char *name,
                  const struct vk_bk_vm_report *rep)
{
    struct vk_vminfo info;
    int e = vk_rt_info(vm, 0, &info);
    bool running = e == 0 && info.pid > 0;
    if (e == 0)
        vk_vminfo_free(&info);
    else if (e != -ENOENT)
        return e;
    vk_error_clear();
    if (!name)
        name = vm;
    if (running) {
        struct vk_freeze f;
        if ((e = vk_freeze_begin(vm, &f)) < 0)
            return e;
        for (int i = 0; i < f.n && e == 0; i++)
            e = save_one(r, f.d[i].image, f.d[i].format, name, f.d[i].vdev, f.n, rep);
        /* Merged back whatever happened; a save error is the one told,
         * with its own message (vk_freeze_end may set another). */
        char msg[512] = "";
        if (e < 0)
            snprintf(msg, sizeof msg, "%s", vk_errmsg());
        int e2 = vk_freeze_end(&f);
        return e < 0 ? vk_error(e, "%s", msg) : e2;
    }
    struct vk_domcfg c;
    if ((e = vk_store_load(vm, &c)) < 0)
        return e;
    int n = 0;
    for (unsigned i = 0; i < c.n_disks; i++)
        n += vk_freeze_disk(&c.disks[i]);
    if (!n)
        e = vk_error(-ENOTSUP, "%s: no writable local disk to back up", vm);
    for (unsigned i = 0; i < c.n_disks && e == 0; i++) {
        const struct vk_diskspec *d = &c.disks[i];
        if (vk_freeze_disk(d))
            e = save_one(r, d->target, d->format ? d->format : "raw", name, d->vdev, n, rep);
    }
    vk_domcfg_free(&c);
    return e;
}
