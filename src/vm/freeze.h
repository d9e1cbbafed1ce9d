/* A running VM's disks frozen at one instant, for `vmkit backup save
 * NAME` (as libvirt's external snapshots for backups): one QMP
 * transaction of blockdev-snapshot-sync puts a new qcow2 overlay on top
 * of every writable local disk at the same moment, so the guest writes
 * go there and the images below stop changing; once they were read, an
 * active block-commit merges each overlay back into its image and the
 * overlay file is removed.  The guest runs on throughout.
 *
 * The overlay of image IMG is IMG.vmkit-backup.qcow2.  One that a killed
 * backup left in use (QEMU's active layer) is merged back by the next
 * vk_freeze_begin before it freezes again. */
#ifndef VK_VM_FREEZE_H
#define VK_VM_FREEZE_H

#include "vm/qmp.h"
#include "vm/runtime.h"

#define VK_FREEZE_SUFFIX ".vmkit-backup.qcow2"

struct vk_frozen_disk {
    char vdev[16];          /* as the config names it */
    char dev[32];           /* QEMU's drive ("disk0") */
    char *image;            /* the frozen image (the config's target) */
    char *format;           /* its format ("raw", "qcow2"...) */
    char *overlay;          /* image + VK_FREEZE_SUFFIX; set once it exists */
};

struct vk_freeze {
    struct vk_vminfo info;
    int lock;               /* the VM's lock, held from begin to end */
    struct vk_qmp *q;
    struct vk_frozen_disk *d;
    int n;
};

/* Whether a backup covers disk d: a local image the guest may write (not
 * a CD-ROM, read-only or network disk). */
int vk_freeze_disk(const struct vk_diskspec *d);

/* Freeze the writable local disks (not CD-ROMs, read-only or network
 * disks) of running VM name.  0 with *f filled (the images in f->d can
 * then be read; finish with vk_freeze_end), or a negative errno after
 * vk_error() with nothing changed: -ENOENT no such VM, -EINVAL not
 * running, -ENOTSUP no disk to back up, -EEXIST an overlay file that is
 * not QEMU's (named), QEMU's error for the transaction. */
int vk_freeze_begin(const char *name, struct vk_freeze *f);

/* Merge every overlay back (active block-commit, completed once ready)
 * and remove its file; release the VM.  0, or the first error, naming
 * the disk and leaving its overlay in place (the VM runs on it; the next
 * backup merges it). */
int vk_freeze_end(struct vk_freeze *f);

#endif
