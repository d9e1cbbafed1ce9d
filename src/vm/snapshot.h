/* Internal snapshots of a VM's disks, as `virsh snapshot-*` on qcow2.
 *
 * A running VM's snapshot holds every writable disk and the machine's
 * state (RAM, devices), written by QEMU's snapshot-save job over QMP into
 * the first writable disk; revert (snapshot-load) brings both back, and
 * the guest goes on from the moment of the snapshot.  A VM that is not
 * running gets disk-only snapshots, made by qemu-img snapshot on each
 * writable disk (vmkit's own qcow2 driver keeps snapshot tables intact
 * but does not write them yet).  Either way every writable disk must be
 * qcow2: a raw disk has nowhere to keep a snapshot, and a snapshot of
 * only some disks would not be one state.  CD-ROMs and read-only disks
 * are left out. */
#ifndef VK_VM_SNAPSHOT_H
#define VK_VM_SNAPSHOT_H

#include <stdint.h>

/* One snapshot as QEMU reports it (SnapshotInfo). */
struct vk_snapinfo {
    char *id, *name;
    uint64_t vm_state_size;   /* 0 for a disk-only snapshot */
    long long date_sec;       /* when it was taken (Unix time) */
    long long vm_clock_ns;    /* the guest's clock at that moment */
};

enum vk_snap_op { VK_SNAP_CREATE, VK_SNAP_REVERT, VK_SNAP_DELETE };

/* Create, revert to or delete snapshot tag on VM name's writable disks
 * (see above): a running VM through QMP jobs (state included), a defined
 * VM that is not running with qemu-img (disks only; refused while one of
 * its disks backs another VM's, as writing it would change that VM).
 * Errors name the VM and the disk: -ENOTSUP for a raw disk, -ENOENT for an
 * unknown VM, -EIO with QEMU's words ("Snapshot 'x' already exists...").
 * A create that fails on a later disk deletes what it made on the earlier
 * ones.  0 or a negative errno. */
int vk_vm_snapshot(const char *name, enum vk_snap_op op, const char *tag);

/* The snapshots of VM name (those of its first writable disk, which
 * holds the machine state of a running VM's snapshots) into *out.
 * Returns the count (free with vk_snapinfo_free) or a negative errno. */
int vk_vm_snapshot_list(const char *name, struct vk_snapinfo **out);

void vk_snapinfo_free(struct vk_snapinfo *s, int n);

#endif
