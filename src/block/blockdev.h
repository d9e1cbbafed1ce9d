/* The block layer: one interface for every disk image format.
 *
 * A vk_blockdev is a guest-visible disk: an array of bytes addressed with
 * 64-bit offsets.  Each image format is one driver file (raw.c, qcow2.c)
 * exporting a `struct vk_format`; an open device carries a pointer to its
 * format's `struct vk_blockdev_ops`.  Generic code calls the vk_bd_*
 * wrappers below and never asks which format it holds.
 *
 * Devices stack: slice.c is a byte window of another device (a partition),
 * qcow2 opens its backing file as another device.
 *
 * Contract for every function returning int: 0 (or a non-negative count)
 * on success, a negative errno on failure with a message recorded through
 * vk_error() (util/err.h).
 */
#ifndef VK_BLOCK_BLOCKDEV_H
#define VK_BLOCK_BLOCKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vk_blockdev;

/* Flags for vk_bd_open() and the drivers' open(). */
enum {
    VK_OPEN_RDWR     = 1 << 0,  /* open for writing (default: read-only) */
    VK_OPEN_NOLOCK   = 1 << 1,  /* skip QEMU-compatible image locking */
    VK_OPEN_NOBACKING = 1 << 2, /* do not open the backing chain */
    VK_OPEN_CHECK    = 1 << 3,  /* opened by `img check`: tolerate damage
                                   that check should report, not refuse */
    VK_OPEN_NOFLUSH  = 1 << 4,  /* no fdatasync on close: the caller accepts
                                   data left in the page cache, like
                                   qemu-img convert's default cache=unsafe */
    VK_OPEN_BULK     = 1 << 5,  /* a large write follows (convert, clone,
                                   restore): the kernel's writeback of the
                                   file is started all along, by a helper
                                   thread (util/writeback.h), so that the
                                   final sync finds little left */
};

/* Result bits of block_status(): how a range reads. */
enum {
    VK_BS_DATA      = 1 << 0,   /* may read as non-zero */
    VK_BS_ZERO      = 1 << 1,   /* reads as zeroes for certain */
    VK_BS_ALLOCATED = 1 << 2,   /* allocated in this layer (not taken from
                                   a backing file) */
    VK_BS_OFFSET_VALID = 1 << 3,/* *host_off is the offset in the image file */
    VK_BS_COMPRESSED = 1 << 4,  /* stored compressed */
};

/* Flags for write_zeroes(). */
enum {
    VK_ZERO_MAY_UNMAP = 1 << 0, /* the range may be deallocated (hole) */
};

/* Facts about an image for `img info`.  Drivers fill what applies; strings
 * point into storage owned by the device and live until it is closed. */
struct vk_imginfo {
    const char *format;         /* "raw", "qcow2" */
    uint64_t virtual_size;
    uint64_t disk_size;         /* bytes the file occupies on the host */
    uint32_t cluster_size;      /* 0 when the format has none */
    int      version;           /* qcow2: 2 or 3; 0 otherwise */
    const char *backing_file;   /* as stored in the image; NULL if none */
    const char *backing_format; /* NULL if not recorded */
    const char *compression;    /* "zlib", "zstd"; NULL for none */
    bool     dirty;             /* qcow2 dirty bit (lazy refcounts) */
    bool     corrupt;           /* qcow2 corrupt bit */
    bool     lazy_refcounts;
    int      refcount_bits;
    int      nb_snapshots;      /* internal snapshots (kept untouched) */
    bool     extended_l2;
    /* qemu-img's "format-specific" data object as JSON text (VMDK: cid,
     * create-type, extents...); NULL when the CLI builds it itself. */
    const char *format_specific;
};

/* What `img check` found.  Counts are of clusters. */
struct vk_check_report {
    uint64_t corruptions;       /* errors that lose or mix data */
    uint64_t leaks;             /* allocated but unused clusters */
    uint64_t corruptions_fixed;
    uint64_t leaks_fixed;
    uint64_t check_errors;      /* could not be checked (I/O error...) */
    uint64_t allocated_clusters;
    uint64_t total_clusters;
    uint64_t fragmented_clusters;
    uint64_t compressed_clusters;
    uint64_t image_end_offset;
};

enum { VK_REPAIR_LEAKS = 1, VK_REPAIR_ALL = 3 };

/* The operations one open device supports.  NULL means "not supported";
 * the vk_bd_* wrappers turn that into -ENOTSUP with a message. */
struct vk_blockdev_ops {
    /* Read/write exactly len bytes at off, all of it or fail.  Offsets and
     * lengths need no alignment.  Reads past the end fail with -EINVAL
     * (the wrapper checks; drivers may assume off+len <= size). */
    int (*pread)(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off);
    int (*pwrite)(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off);
    /* Write a whole cluster compressed (qcow2 `convert -c`).  off is
     * cluster-aligned, len one cluster (or the tail of the disk). */
    int (*pwrite_compressed)(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off);
    int (*flush)(struct vk_blockdev *bd);
    /* Make [off, off+len) read as zeroes, deallocating if flags allow. */
    int (*write_zeroes)(struct vk_blockdev *bd, uint64_t off, uint64_t len, int flags);
    /* Describe the run starting at off: returns VK_BS_* bits (>= 0) and
     * sets *pnum to the length (1 <= *pnum <= len) that shares them, and
     * *host_off when VK_BS_OFFSET_VALID. */
    int (*block_status)(struct vk_blockdev *bd, uint64_t off, uint64_t len,
                        uint64_t *pnum, uint64_t *host_off);
    /* Change the virtual size.  Shrinking over allocated data fails with
     * -ENOTEMPTY unless allow_shrink. */
    int (*truncate)(struct vk_blockdev *bd, uint64_t size, bool allow_shrink);
    int (*info)(struct vk_blockdev *bd, struct vk_imginfo *info);
    int (*check)(struct vk_blockdev *bd, struct vk_check_report *r, int repair);
    /* Rewrite the backing-file reference (qcow2 `img rebase -u`). */
    int (*set_backing)(struct vk_blockdev *bd, const char *file, const char *fmt);
    /* Release everything; the device is freed. Errors flushing are returned. */
    int (*close)(struct vk_blockdev *bd);
};

struct vk_writeback;

struct vk_blockdev {
    const struct vk_blockdev_ops *ops;
    const struct vk_format *format;  /* NULL for slices and other filters */
    char    *name;          /* for messages: the path or "disk.qcow2:2" */
    uint64_t size;          /* virtual size in bytes */
    uint32_t cluster_size;  /* allocation granularity; 512 for raw */
    int      flags;         /* VK_OPEN_* it was opened with */
    bool     format_guessed;/* format came from probing, not from -f */
    bool     needs_compressed_writes; /* a copy must fill it with
                                   pwrite_compressed, whole clusters in order
                                   (VMDK streamOptimized) */
    struct vk_blockdev *backing; /* NULL if none */
    void    *priv;          /* the driver's state */
    struct vk_writeback *wb;/* VK_OPEN_BULK's helper, on wb_fd; or NULL */
    int      wb_fd;
};

/* Options for creating an image. */
struct vk_create_opts {
    uint64_t size;
    const char *prealloc;       /* "off" (default), "metadata", "falloc", "full" */
    uint32_t cluster_size;      /* 0: the format's default */
    const char *backing_file;   /* NULL: none */
    const char *backing_format; /* NULL: probe */
    int version;                /* qcow2 compat: 2 (0.10) or 3 (1.1, default) */
    const char *compression;    /* qcow2: "zlib" (default) or "zstd" */
    bool lazy_refcounts;
    int refcount_bits;          /* 0: 16 */
    /* VMDK, VDI, VHD (qemu-img's -o names) */
    const char *subformat;      /* vmdk: monolithicSparse (default), monolithicFlat,
                                   twoGbMaxExtentSparse/Flat, streamOptimized;
                                   vpc: "dynamic" (default) or "fixed" */
    const char *adapter_type;   /* ide (default), lsilogic, buslogic, legacyESX */
    const char *hwversion;      /* ddb.virtualHWVersion; "4" by default */
    bool zeroed_grain;
    /* The name the image will have once published (vk_bd_create_tmp sets
     * it): formats made of several files name their extents after it. */
    const char *final_path;
    bool static_image;          /* vdi: preallocated ("fixed") image */
    bool force_size;            /* vpc: keep the size exact, not rounded to
                                   a CHS geometry (Hyper-V, Azure) */
};

/* One image format. */
struct vk_format {
    const char *name;
    /* Confidence 0..100 that buf (the first len bytes of the file, len >=
     * 512 unless the file is shorter) is this format.  raw answers 1. */
    int (*probe)(const uint8_t *buf, size_t len, const char *filename);
    /* Open the file already opened as fd (ownership of fd passes to the
     * driver, also on failure).  name is for messages and for resolving
     * relative backing paths. */
    int (*open)(int fd, const char *name, int flags, struct vk_blockdev **out);
    int (*create)(const char *filename, const struct vk_create_opts *opts);
    /* Delete an image made of several files (a VMDK descriptor and its
     * extents); NULL: the image is the one file, unlink() it. */
    int (*remove)(const char *filename);
};

extern const struct vk_format vk_format_raw;
extern const struct vk_format vk_format_qcow2;
extern const struct vk_format vk_format_vmdk;
extern const struct vk_format vk_format_vdi;
extern const struct vk_format vk_format_vpc;
extern const struct vk_format vk_format_vhdx;

/* The format called name (QEMU's names; xl's "vhd" is "vpc"), or NULL. */
const struct vk_format *vk_format_by_name(const char *name);

/* True if the first len bytes of a file, buf, probe as an image format
 * other than raw (a header a guest must not write into a raw disk). */
bool vk_probe_is_image(const uint8_t *buf, size_t len, const char *name);

/* Probe the file at path: the format with the highest confidence (raw as
 * the fallback).  Returns 0 and sets *fmt; a format vmkit recognizes but
 * cannot read (VDI, VMDK, VHD...) fails with -ENOTSUP naming it. */
int vk_format_probe(const char *path, const struct vk_format **fmt);

/* Refuse (-ENOTSUP, naming the format) a file whose head (the first len
 * bytes, read from fd at offset 0) or tail shows an image format vmkit
 * has no driver for (block/foreign.c); 0 when none matches. */
int vk_foreign_probe(int fd, const char *path, const uint8_t *head, size_t len);

/* Open the image at path.  fmt NULL means probe by header; the result is
 * recorded in format_guessed, and a guessed raw image refuses writes that
 * would make its first sector probe as another format (QEMU's rule: a
 * guest must not turn its raw disk into a qcow2 that names a host file).
 * Takes QEMU-compatible locks unless VK_OPEN_NOLOCK. */
int vk_bd_open(const char *path, const char *fmt, int flags, struct vk_blockdev **out);

/* Create an image file (format name fmt) at path.  Fails with -EEXIST if
 * the file exists, so nothing the user had is overwritten by accident.
 * The image is built under a temporary name and renamed when complete:
 * an interrupted create leaves nothing at path. */
int vk_bd_create(const char *path, const char *fmt, const struct vk_create_opts *opts);

/* The first half of vk_bd_create(): create the image under a fresh
 * temporary name next to path (*tmp, malloc'd; a hidden
 * ".NAME.vmkit-PID-N"), to be filled and then given its name with
 * vk_publish().  -EEXIST if path exists. */
int vk_bd_create_tmp(const char *path, const char *fmt, const struct vk_create_opts *opts, char **tmp);

/* "<dir>/.<base>.vmkit-<pid>-<n>": a hidden name next to path, in the
 * same directory so the final rename (vk_publish) stays within one
 * filesystem.  malloc'd, or NULL when memory ran out. */
char *vk_tmp_name(const char *path, unsigned n);

/* Make the finished file tmp durable (fsync) and rename it to path, never
 * replacing a file there (-EEXIST), then sync the directory.  On failure
 * tmp is removed.  Only tmp itself is synced: the other files of a
 * multi-file image (a VMDK's extents) are the caller's to sync first
 * (vk_bd_flush; vk_img_copy_new does it). */
int vk_publish(const char *tmp, const char *path);

/* vk_publish without any sync: the rename only (never over a file), for
 * a caller that accepts losing the file, or getting it half-written, in
 * a power cut (qemu-img's cache=unsafe).  On failure tmp is removed. */
int vk_publish_unsynced(const char *tmp, const char *path);

/* Delete the image file path of format fmt (NULL: raw) with every file
 * that belongs to it (VMDK extents), as a failed convert must.  Missing
 * files are no error. */
int vk_bd_remove(const char *path, const char *fmt);

/* Allocate a device of a driver: zeroed, name copied, ops/format set.
 * priv_size bytes are allocated after it and pointed to by ->priv. */
struct vk_blockdev *vk_bd_alloc(const struct vk_blockdev_ops *ops,
                                const struct vk_format *fmt,
                                const char *name, size_t priv_size);
/* Free what vk_bd_alloc allocated (not the backing device). */
void vk_bd_free(struct vk_blockdev *bd);

/* Wrappers: check ranges and missing ops, then call the driver. */
int vk_bd_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off);
int vk_bd_pwrite(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off);
int vk_bd_pwrite_compressed(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off);
int vk_bd_flush(struct vk_blockdev *bd);
int vk_bd_write_zeroes(struct vk_blockdev *bd, uint64_t off, uint64_t len, int flags);
/* Without a block_status op the whole range is reported as DATA|ALLOCATED. */
int vk_bd_block_status(struct vk_blockdev *bd, uint64_t off, uint64_t len,
                       uint64_t *pnum, uint64_t *host_off);
int vk_bd_truncate(struct vk_blockdev *bd, uint64_t size, bool allow_shrink);
int vk_bd_info(struct vk_blockdev *bd, struct vk_imginfo *info);
int vk_bd_check(struct vk_blockdev *bd, struct vk_check_report *r, int repair);
int vk_bd_set_backing(struct vk_blockdev *bd, const char *file, const char *fmt);
/* Close bd and, recursively, its backing chain.  NULL is fine. Returns the
 * first error (a failed final flush). */
int vk_bd_close(struct vk_blockdev *bd);

/* A window [offset, offset+length) of parent as a device of its own.
 * The slice does not own parent unless own_parent. name is for messages. */
int vk_slice_open(struct vk_blockdev *parent, uint64_t offset, uint64_t length,
                  const char *name, bool own_parent, struct vk_blockdev **out);

/* Resolve a backing file name as QEMU does: absolute as is, relative to
 * the directory of the image that names it.  Returns a malloc'd path. */
char *vk_backing_path(const char *image_path, const char *backing);

/* QEMU-compatible image locks (block/lock.c).  Refuses (-EBUSY, message
 * naming the file) when another process - typically a running QEMU - holds
 * the image for writing in a way that conflicts with ours. */
int vk_lock_image(int fd, const char *name, bool writable);

/* Read/write all of len at off on a host fd, retrying short transfers.
 * Reads past EOF are an error (-EIO, "unexpected end of file"). */
int vk_fd_pread_full(int fd, void *buf, size_t len, uint64_t off, const char *name);
int vk_fd_pwrite_full(int fd, const void *buf, size_t len, uint64_t off, const char *name);
/* Make [off, off+len) of a host fd read as zeroes: punch a hole (punch,
 * keeping the size) or zero the range in place, writing zeroes where the
 * filesystem cannot. */
int vk_fd_write_zeroes(int fd, uint64_t off, uint64_t len, bool punch, const char *name);
/* A random (version 4) UUID in RFC 4122 byte order. */
void vk_uuid_random(uint8_t uuid[16]);

#endif
