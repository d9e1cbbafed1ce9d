/* Cloning a defined VM, as virt-clone, and the guard that keeps a disk
 * other VMs build on from being written.
 *
 * A clone is a new defined VM: the source's stored config with a new
 * name, a new uuid and a new MAC on every NIC (vk_domcfg_check's, as
 * for any new config: xl's 00:16:3e prefix, 23 random bits).  Every writable disk is copied sparse (block/imgops.h's
 * vk_img_copy, into a new image of the same format, built under a
 * temporary name) or, linked, gets a new qcow2 overlay whose backing file
 * is the source's disk (by absolute path, its format recorded).  CD-ROMs,
 * read-only disks and network disks are shared.  The new disks are named
 * after the source's: the source's name in the file name replaced by the
 * clone's, else "-NEW" added before the extension; an existing file is
 * never replaced.  Nothing is started.
 *
 * A linked clone reads the source's disk forever: writing that disk would
 * change what the clone sees.  vk_disk_check_backing() refuses it, naming
 * the VM; vk_vm_start applies it to every writable disk.
 */
#ifndef VK_VM_CLONE_H
#define VK_VM_CLONE_H

#include "block/imgops.h"
#include "vm/config.h"

struct vk_clone_opts {
    int linked;                  /* qcow2 overlays instead of copies */
    vk_progress_fn progress;     /* copy progress over all disks; may be NULL */
    void *progress_ctx;
};

/* Clone the defined VM src as dst (see above).  The source must not be
 * running (-EBUSY "SRC: VM is running; shut it down before cloning");
 * dst must be neither defined nor running (-EEXIST).  On failure nothing
 * is left: no new disk, no definition.  0 or a negative errno. */
int vk_vm_clone(const char *src, const char *dst, const struct vk_clone_opts *o);

/* Refuse (-EBUSY "PATH: it is the backing file of VM 'X' (disk VDEV:
 * FILE); writing it would change that VM's disk") when the image at path
 * is in the backing chain of a disk of another defined or running VM
 * (not self, which may be NULL).  0 when none is. */
int vk_disk_check_backing(const char *path, const char *self);

/* vk_disk_check_backing for every writable disk of c (not CD-ROMs,
 * read-only or network disks), with self = c->name. */
int vk_domcfg_check_backing(const struct vk_domcfg *c);

#endif
