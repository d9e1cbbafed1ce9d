/* The public API (include/vmkit/vmkit.h): thin wrappers over the layers,
 * the only symbols libvmkit.so exports (mk/libvmkit.map).  Everything else
 * in the library is compiled with hidden visibility. */
#include "vmkit/vmkit.h"

#include "block/blockdev.h"
#include "part/part.h"
#include "part/target.h"
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct vmkit_disk {
    struct vk_blockdev *bd;
};

const char *vmkit_version(void)
{
    return VMKIT_VERSION;
}

const char *vmkit_errmsg(void)
{
    return vk_errmsg();
}

int vmkit_disk_open(const char *spec, int flags, vmkit_disk **out)
{
    *out = NULL;
    if (flags & ~VMKIT_RDWR)
        return vk_error(-EINVAL, "%s: unknown open flags 0x%x", spec, (unsigned)flags);
    struct vmkit_disk *d = calloc(1, sizeof *d);
    if (!d)
        return vk_error(-ENOMEM, "out of memory");
    int r = vk_open_disk_spec(spec, NULL, (flags & VMKIT_RDWR) ? VK_OPEN_RDWR : 0, &d->bd);
    if (r < 0) {
        free(d);
        return r;
    }
    *out = d;
    return 0;
}

uint64_t vmkit_disk_size(const vmkit_disk *d)
{
    return d->bd->size;
}

int vmkit_disk_pread(vmkit_disk *d, void *buf, size_t len, uint64_t off)
{
    return vk_bd_pread(d->bd, buf, len, off);
}

int vmkit_disk_pwrite(vmkit_disk *d, const void *buf, size_t len, uint64_t off)
{
    return vk_bd_pwrite(d->bd, buf, len, off);
}

int vmkit_disk_close(vmkit_disk *d)
{
    if (!d)
        return 0;
    int r = vk_bd_close(d->bd);
    free(d);
    return r;
}

int vmkit_disk_partitions(vmkit_disk *d, struct vmkit_partition **out)
{
    *out = NULL;
    struct vk_ptable t;
    int r = vk_ptable_read(d->bd, &t);
    if (r < 0)
        return r;
    if (t.n && !(*out = calloc(t.n, sizeof **out))) {
        vk_ptable_free(&t);
        return vk_error(-ENOMEM, "out of memory");
    }
    for (unsigned i = 0; i < t.n; i++) {
        const struct vk_part *p = &t.p[i];
        struct vmkit_partition *o = &(*out)[i];
        o->number = p->number;
        o->offset = p->start * VK_SECTOR;
        o->size = p->size * VK_SECTOR;
        snprintf(o->type, sizeof o->type, "%s", vk_part_type_name(&t, p));
        snprintf(o->name, sizeof o->name, "%s", p->name);
        o->bootable = p->bootable;
    }
    int n = (int)t.n;
    vk_ptable_free(&t);
    return n;
}

void vmkit_partitions_free(struct vmkit_partition *p)
{
    free(p);
}
