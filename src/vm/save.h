/* Saving a running VM to a file and restoring it, as `xl save` /
 * `xl restore` (the file format is savefile.h, the QEMU side migstream.h).
 *
 * Save stops the VM's CPUs, writes its effective config (with the
 * concrete machine type), pygrub's kernel and initrd and QEMU's migration
 * stream to a temporary file next to FILE, syncs it and gives it its name
 * (an existing FILE is never replaced), then ends the VM, or with
 * VK_SAVE_KEEP lets it run on (a checkpoint), or with VK_SAVE_PAUSED
 * keeps it paused.  Any failure leaves the VM as it was (running again if
 * it ran) and no file.  The disks are not in the file: a restored VM
 * expects them as they were when it was saved (after a checkpoint the
 * running VM goes on changing them).
 *
 * Restore starts QEMU from the saved config with the same device layout,
 * CPUs stopped and waiting for a stream, feeds it the stream while
 * checking its SHA-256, and resumes the VM only when QEMU has loaded it
 * and the checksum matched.  Anything wrong (a damaged, truncated or
 * foreign file, a name already running, QEMU refusing the stream) is an
 * error that leaves nothing running.
 */
#ifndef VK_VM_SAVE_H
#define VK_VM_SAVE_H

#include <stddef.h>
#include <stdint.h>

enum {
    VK_SAVE_KEEP     = 1 << 0,   /* -c: leave the VM running afterwards */
    VK_SAVE_PAUSED   = 1 << 1,   /* -p: leave it paused afterwards */
    VK_SAVE_COMPRESS = 1 << 2,   /* --compress: zstd the stream */
};

struct vk_save_stats {
    uint64_t stream_bytes;   /* what QEMU sent */
    uint64_t file_bytes;     /* the size of the file written */
    long long ms;            /* wall time of the whole save */
};

/* Save running VM name to path (see above).  st may be NULL.  0 or a
 * negative errno: -EEXIST "PATH: file exists", -EINVAL "NAME: VM is not
 * running", or why QEMU could not send its state. */
int vk_vm_save(const char *name, const char *path, int flags, struct vk_save_stats *st);

struct vk_restore_opts {
    int paused;                /* leave the restored VM paused (-p) */
    const char *name;          /* run it under this name (and a new uuid) */
    char *const *overrides;    /* "key=value" as `vmkit create`, applied to
                                * the saved config */
    int n_overrides;
};

/* Restore the VM saved in path (see above).  The name it runs under goes
 * to name_out (may be NULL).  0 or a negative errno with a message. */
int vk_vm_restore(const char *path, const struct vk_restore_opts *o, char *name_out,
                  size_t len);

#endif
