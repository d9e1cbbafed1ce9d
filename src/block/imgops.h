/* Whole-image operations a library user needs as much as the CLI does:
 * copy (convert), compare, map iteration, commit and rebase.  All work on
 * open vk_blockdevs through the generic interface, so they apply to every
 * format and to partitions (slices). */
#ifndef VK_BLOCK_IMGOPS_H
#define VK_BLOCK_IMGOPS_H

#include "block/blockdev.h"

typedef void (*vk_progress_fn)(uint64_t done, uint64_t total, void *ctx);

struct vk_copy_opts {
    bool compress;              /* write whole clusters with pwrite_compressed */
    vk_progress_fn progress;    /* NULL: none */
    void *progress_ctx;
    /* vk_img_copy_new only: */
    bool unsafe;                /* leave the new image in the page cache, as
                                   qemu-img convert's default cache=unsafe:
                                   no sync, no early writeback */
    bool sync_each;             /* also sync each metadata update on the way */
    const char *volatile *tmp_path;  /* if not NULL: the temporary file's
                                   name while it exists, else NULL (for a
                                   signal handler that removes it) */
};

/* Copy the guest-visible content of src into dst, which must be at least
 * as large and must read as zeroes where nothing is written (a freshly
 * created image).  Ranges src reports as zero and all-zero buffers are
 * skipped, so sparse input gives sparse output.  Does not flush dst.
 * Returns 0 or -errno. */
int vk_img_copy(struct vk_blockdev *src, struct vk_blockdev *dst,
                const struct vk_copy_opts *o);

/* Copy src into a new image dst of format fmt, made with *create.  The
 * image is built under a hidden temporary name next to dst and renamed
 * to dst only when complete, never over a file there (-EEXIST); on any
 * failure every file of it is removed.  Unless o->unsafe, every file of
 * the image (a VMDK's extents too) is durable before the rename and the
 * name after it, so a power cut leaves either no dst or a complete one.
 * Returns 0 or -errno. */
int vk_img_copy_new(struct vk_blockdev *src, const char *dst, const char *fmt,
                    const struct vk_create_opts *create, const struct vk_copy_opts *o);

/* Compare the guest-visible content of a and b; when the sizes differ the
 * extra part of the larger one must read as zeroes (as qemu-img compare).
 * Returns 0 identical, 1 different (*mismatch = first differing byte
 * offset), or -errno. */
int vk_img_compare(struct vk_blockdev *a, struct vk_blockdev *b, uint64_t *mismatch);

/* One run of the allocation map. */
struct vk_map_run {
    uint64_t start, length;
    int status;         /* VK_BS_* bits of the layer that answered */
    int depth;          /* 0: bd itself, 1: its backing file, ... */
    bool present;       /* some layer of the chain defines the content */
    uint64_t host_off;  /* valid when status has VK_BS_OFFSET_VALID */
    const char *file;   /* name of the layer that answered */
};

/* Call fn for each run of bd's map in order, descending the backing chain
 * for ranges a layer does not allocate.  Adjacent runs with equal
 * properties (and contiguous host offsets) are merged.  Stops at the
 * first negative return of fn and returns it; otherwise 0 or -errno. */
int vk_img_map(struct vk_blockdev *bd,
               int (*fn)(const struct vk_map_run *run, void *ctx), void *ctx);

/* Commit the image at path into its backing file: every range the top
 * image allocates is written into the backing image.  The top image is
 * left as it was (like `qemu-img commit -d`): its content stays the same
 * because it still overlays identical data.  Returns 0 or -errno. */
int vk_img_commit(const char *path, const char *fmt, vk_progress_fn progress, void *ctx);

/* Make the image at path use new_backing (format new_fmt, NULL to probe;
 * new_backing NULL or "" for none).  Unless unsafe, first copy into the
 * image every range it does not allocate itself where the old and new
 * backing content differ, so its guest-visible content is unchanged.
 * new_backing is stored as given; it is resolved relative to path's
 * directory, as QEMU does.  Returns 0 or -errno. */
int vk_img_rebase(const char *path, const char *fmt, const char *new_backing,
                  const char *new_fmt, bool unsafe);

/* True if all len bytes of buf are zero. */
bool vk_buf_is_zero(const void *buf, size_t len);

#endif
