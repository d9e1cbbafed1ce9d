/* Internal snapshots of a disk image (qcow2 only), as `qemu-img snapshot`:
 * create, list, apply (revert to) and delete, interchangeable with QEMU's
 * (docs/interop/qcow2.txt, "Snapshots").  The implementation is
 * block/qcow2_snap.c. */
#ifndef VK_BLOCK_SNAPSHOT_H
#define VK_BLOCK_SNAPSHOT_H

#include "block/blockdev.h"

#include <stddef.h>
#include <stdint.h>

/* The longest snapshot name accepted (QEMU keeps names in 256 bytes). */
#define VK_SNAPSHOT_NAME_MAX 255

/* One internal snapshot, as the image records it. */
struct vk_snapshot {
    char *id;                   /* unique ID string ("1", "2"...) */
    char *name;                 /* the tag */
    uint64_t vm_state_size;     /* bytes of saved VM state (0: disk only) */
    uint64_t disk_size;         /* the virtual size when it was taken */
    uint64_t vm_clock_nsec;     /* guest clock then (0 for disk-only) */
    uint64_t icount;            /* instruction count; UINT64_MAX: none */
    uint32_t date_sec, date_nsec;   /* when it was taken (UTC) */
};

/* The snapshots of bd (any open mode) in table order: *out is a malloc'd
 * array of *n entries (free with vk_snapshots_free).  -ENOTSUP when bd is
 * not a qcow2 image. */
int vk_snapshot_list(struct vk_blockdev *bd, struct vk_snapshot **out, size_t *n);
void vk_snapshots_free(struct vk_snapshot *v, size_t n);

/* Take a disk-only snapshot called name of bd (opened read-write) with the
 * next free numeric ID, dated now.  -EEXIST when the name is taken,
 * -EINVAL for an empty or too long name, -ENOTSUP for a non-qcow2 image.
 * The new header is the commit point: a crash before it leaves the
 * old image (at worst with leaked clusters). */
int vk_snapshot_create(struct vk_blockdev *bd, const char *name);

/* Revert bd's disk to the snapshot whose ID or else whose name is name
 * (as qemu-img: IDs first).  The snapshot stays.  The disk's size becomes
 * the snapshot's.  -ENOENT when there is no such snapshot. */
int vk_snapshot_apply(struct vk_blockdev *bd, const char *name);

/* Delete the snapshot whose ID or else whose name is name, giving back
 * the clusters only it used.  -ENOENT when there is none. */
int vk_snapshot_delete(struct vk_blockdev *bd, const char *name);

#endif
