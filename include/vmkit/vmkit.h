/* libvmkit: the public, stable API of vmkit (link with
 * `pkg-config --cflags --libs libvmkit`).
 *
 * Disk images (raw, qcow2), the partitions in them, the files in their
 * filesystems (ext2/3/4, FAT) and QEMU virtual machines, without root,
 * loop devices or mounting.  Objects are named as the vmkit command names
 * them:
 *
 *   disk.qcow2              the whole disk
 *   disk.qcow2:2            partition 2 (Linux numbering: MBR 1-4 primary,
 *                           5+ logical; GPT n is entry n)
 *   disk.qcow2:2:/etc/fstab a file inside partition 2's filesystem
 *   root.img:/etc/fstab     a file in a disk that holds a filesystem
 *                           directly (no partition table)
 *
 * A file whose name is the whole spec wins ("a:1" names the file "a:1" if
 * there is one).
 *
 * Conventions, for every function below:
 *  - int results are 0 (or a non-negative count) on success and a negative
 *    errno on failure; vmkit_errmsg() then gives a message that names the
 *    file, partition or path ("disk.img:3: no partition 3").
 *  - Nothing is printed and the process is never exited.
 *  - Handles may be used from one thread at a time; different handles from
 *    different threads.  The error message is per thread.
 *  - Images are locked as QEMU locks them: a disk open for writing here
 *    cannot be opened by a running QEMU, and the other way round.
 *
 * Only what this header declares is exported (libvmkit.so.0, symbol
 * version VMKIT_0); structures are never extended in place within a
 * soname: a new member means a new function.
 */
#ifndef VMKIT_VMKIT_H
#define VMKIT_VMKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VMKIT_API __attribute__((visibility("default")))
#else
#define VMKIT_API
#endif

/* The library's version, "MAJOR.MINOR.PATCH" (the vmkit release). */
VMKIT_API const char *vmkit_version(void);

/* The message of the last failure of a vmkit_* call in this thread
 * ("disk.img: No such file or directory").  Never NULL; valid until the
 * next vmkit_* call in this thread. */
VMKIT_API const char *vmkit_errmsg(void);

/* ---- disks and partitions ---- */

typedef struct vmkit_disk vmkit_disk;

/* vmkit_disk_open() flags. */
enum {
    VMKIT_RDWR = 1 << 0,    /* open for writing (default: read-only) */
};

/* Open the disk or partition named by spec ("disk.img", "disk.qcow2:2";
 * a ":/path" part is refused with -EINVAL).  The image format is probed
 * (a raw image whose first sector would then probe as another format
 * refuses such writes, as QEMU does).  -ENOENT when the file or the
 * partition does not exist.  On success *out is a handle to close with
 * vmkit_disk_close(). */
VMKIT_API int vmkit_disk_open(const char *spec, int flags, vmkit_disk **out);

/* The size in bytes of what d names (a partition's own size). */
VMKIT_API uint64_t vmkit_disk_size(const vmkit_disk *d);

/* Read exactly len bytes at byte offset off of d into buf.  Reading past
 * the end fails (-EINVAL) and reads nothing. */
VMKIT_API int vmkit_disk_pread(vmkit_disk *d, void *buf, size_t len, uint64_t off);

/* Write exactly len bytes from buf at byte offset off (d opened with
 * VMKIT_RDWR, else -EBADF/-EROFS).  A partition's writes never leave its
 * bounds (-EINVAL). */
VMKIT_API int vmkit_disk_pwrite(vmkit_disk *d, const void *buf, size_t len, uint64_t off);

/* Flush what was written and free d (NULL is allowed).  Returns the error
 * of the flush, if any: the handle is freed either way. */
VMKIT_API int vmkit_disk_close(vmkit_disk *d);

/* One partition, as vmkit_disk_partitions() lists it. */
struct vmkit_partition {
    unsigned number;        /* 1-based, as in "disk.img:N" */
    uint64_t offset;        /* bytes from the start of the disk */
    uint64_t size;          /* bytes */
    char type[40];          /* as `vmkit part list` names it: "Linux
                               filesystem", "EFI System", "W95 FAT32"... */
    char name[112];         /* GPT name (UTF-8), "" for MBR */
    int bootable;           /* MBR boot flag */
};

/* The partitions of disk d (a whole disk), sorted by number.  Returns their
 * count and *out (an array to free with vmkit_partitions_free; NULL when
 * the count is 0), or -ENOENT when d has no partition table. */
VMKIT_API int vmkit_disk_partitions(vmkit_disk *d, struct vmkit_partition **out);
VMKIT_API void vmkit_partitions_free(struct vmkit_partition *p);

/* ---- files inside filesystems ---- */

/* Read the whole file spec ("disk.img:1:/etc/fstab") into a malloc'd
 * buffer (*data, NUL-terminated for convenience; free() it), its size in
 * *len.  A file larger than max_size bytes fails with -EFBIG. */
VMKIT_API int vmkit_file_read(const char *spec, size_t max_size, char **data, size_t *len);

/* Create or replace the file spec ("disk.img:1:/etc/hostname") with the
 * len bytes at data; a new file gets permission bits mode (e.g. 0644).
 * The parent directory must exist.  The filesystem is consistent when
 * this returns, also after a failure (e.g. -ENOSPC). */
VMKIT_API int vmkit_file_write(const char *spec, const void *data, size_t len, unsigned mode);

/* ---- virtual machines ---- */

/* One VM, as vmkit_vm_list() lists it. */
struct vmkit_vm {
    char name[80];
    int id;                 /* small integer id, 0 when not running */
    char state[16];         /* "starting" "running" "blocked" "paused"
                               "shutdown" "crashed", or "off" for a
                               defined VM that is not running */
    long memory_mb;
    long vcpus;
    int pid;                /* QEMU's pid, 0 when not running */
};

/* The running (and preserved) VMs, sorted by id, then the defined ones
 * that are not running (state "off"), as `vmkit list --all`.  Returns the
 * count and *out (free with vmkit_vm_list_free; NULL when 0). */
VMKIT_API int vmkit_vm_list(struct vmkit_vm **out);
VMKIT_API void vmkit_vm_list_free(struct vmkit_vm *v);

/* Start a transient VM from the xl.cfg file cfg_path, as `vmkit create`.
 * Returns 0 once QEMU runs the guest; on failure nothing is left running.
 * -EEXIST when a VM of that name runs already. */
VMKIT_API int vmkit_vm_create(const char *cfg_path);

/* Start the defined (stored) VM name, as `vmkit start NAME`. */
VMKIT_API int vmkit_vm_start(const char *name);

/* Ask VM name to power off (ACPI power button) and wait until it is gone.
 * When timeout_s > 0 and it still runs after that many seconds, fails
 * with -ETIMEDOUT and leaves it running. */
VMKIT_API int vmkit_vm_shutdown(const char *name, int timeout_s);

/* Stop VM name at once (QEMU is killed) and remove its runtime state. */
VMKIT_API int vmkit_vm_destroy(const char *name);

#ifdef __cplusplus
}
#endif

#endif
