/* Inside the ISO 9660 reader: the index libarchive's walk builds at mount
 * time, shared by iso9660.c (the fs ops) and iso9660_idx.c (libarchive). */
#ifndef VK_FS_ISO9660_INT_H
#define VK_FS_ISO9660_INT_H

#include "fs/fs.h"
#include "fs/iso9660.h"

#define ISO_NONE UINT32_MAX

/* One file, directory or symlink of the tree.  Nodes live in one array;
 * children are a linked list in the order libarchive gave them. */
struct iso_node {
    char *name;             /* one component; "" for the root */
    uint32_t parent, child, next;
    struct vk_stat st;
    char *link;             /* symlink target, NULL otherwise */
    uint64_t entry;         /* ordinal of the libarchive entry holding the data */
    int64_t raw_off;        /* >= 0: contents read straight from the device
                               at this offset (El Torito images, catalog) */
    int64_t data_off;       /* >= 0: where libarchive found the data on the
                               device (see iso_direct_off) */
    char *bad;              /* libarchive's complaint about this entry:
                               reading it fails with this message */
    bool hidden;            /* left out of its directory's listing */
};

struct iso_fs {
    struct vk_blockdev *bd;
    struct iso_node *v;
    size_t n, cap;
    uint32_t *hash;         /* open addressing over (parent, name) -> node */
    size_t hcap;
    struct vk_iso_boot boot;
    struct vk_fsprobe probe;
};

/* The primary volume descriptor (and blkid's Joliet label): 0 if not
 * ISO 9660, 40 (below ext and FAT: an old ISO's descriptors may survive
 * their mkfs) and out filled if it is, or a negative errno. */
int iso_probe(struct vk_blockdev *bd, struct vk_fsprobe *out);

/* Add a node named name (len bytes) under parent; returns its index, or
 * the existing node's if the name is taken (*fresh false).  ISO_NONE when
 * out of memory (message recorded). */
uint32_t iso_node_add(struct iso_fs *x, uint32_t parent, const char *name, size_t len,
                      bool *fresh);
/* The child called name (len bytes) of parent, or ISO_NONE. */
uint32_t iso_node_find(const struct iso_fs *x, uint32_t parent, const char *name, size_t len);

/* The absolute path of node i ("" for the root) into buf. */
int iso_node_path(const struct iso_fs *x, uint32_t i, char *buf, size_t len);

/* Walk the ISO with libarchive and fill x's index (root already added). */
int iso_index_build(struct iso_fs *x);

/* Where regular file idx can be read straight from the device, or -1
 * when only libarchive can (zisofs, multi-extent files). */
int64_t iso_direct_off(struct iso_fs *x, uint32_t idx);

/* Reading the data of regular file node idx through libarchive. */
struct iso_reader;
int iso_reader_read(struct iso_fs *x, struct iso_reader **rp, uint32_t idx, void *buf,
                    size_t len, uint64_t off, int64_t *got);
void iso_reader_free(struct iso_reader *r);

#endif
