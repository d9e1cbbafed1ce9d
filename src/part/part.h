/* Partition tables inside a vk_blockdev: one generic table, labels (MBR,
 * GPT) as drivers behind struct vk_label_ops, as util-linux libfdisk does.
 *
 * Sectors are 512 bytes.  Partition numbers follow Linux: MBR 1-4 are the
 * primary slots, 5+ the logical partitions in extended-chain order; GPT n
 * is entry n-1 of the entry array.
 *
 * Legacy CHS mode (MBR only) is not stored anywhere explicitly; it is read
 * back from the table itself: a table is legacy when its lowest primary
 * partition starts at sector 63 and every primary partition ends on a
 * cylinder boundary (255 heads x 63 sectors).  An empty table is legacy
 * when its disk signature is 0, which is what `part init --legacy-chs`
 * writes (DOS-era fdisk wrote none); modern init writes a random one.
 *
 * Nothing is written unless the whole new table passes vk_ptable_validate.
 * All int functions return 0 or a negative errno after vk_error(). */
#ifndef VK_PART_PART_H
#define VK_PART_PART_H

#include "block/blockdev.h"

#include <stdbool.h>
#include <stdint.h>

#define VK_SECTOR       512u
#define VK_HEADS        255u
#define VK_SPT          63u
#define VK_CYL          (VK_HEADS * VK_SPT)   /* sectors per cylinder */
#define VK_ALIGN        2048u                 /* 1 MiB in sectors */
#define VK_NAME_MAX     36                    /* GPT name, UTF-16 units */

enum vk_label_type { VK_LABEL_NONE = 0, VK_LABEL_MBR, VK_LABEL_GPT };

struct vk_part {
    unsigned number;
    uint64_t start, size;        /* sectors */
    uint8_t  mbr_type;           /* MBR system id */
    uint8_t  type_guid[16];      /* GPT type, on-disk byte order */
    uint8_t  uuid[16];           /* GPT unique partition GUID */
    uint64_t attrs;              /* GPT attribute bits */
    bool     bootable;           /* MBR 0x80 flag */
    bool     logical;            /* MBR logical (number >= 5) */
    uint64_t ebr;                /* logical: sector of its EBR, 0 = choose */
    char     name[VK_NAME_MAX * 3 + 1];   /* GPT name, UTF-8 */
};

struct vk_ptable {
    enum vk_label_type label;
    uint64_t disk_sectors;
    uint32_t disk_sig;           /* MBR */
    uint8_t  disk_guid[16];      /* GPT */
    bool     legacy_chs;         /* MBR: cylinder geometry (see above) */
    uint64_t first_lba, last_lba;/* usable range */
    uint32_t gpt_nentries, gpt_entry_size;
    bool     gpt_primary_bad;    /* read from the backup */
    bool     gpt_backup_bad;     /* backup missing, damaged or misplaced */
    char     gpt_problem[320];   /* why, for verify */
    unsigned n, cap;
    struct vk_part *p;           /* sorted by number */
};

struct vk_label_ops {
    const char *name;            /* "dos", "gpt" as sfdisk says */
    /* Fill t from disk (t zeroed by the caller, disk_sectors set). */
    int (*read)(struct vk_blockdev *bd, struct vk_ptable *t);
    /* Write t (already validated) to disk. */
    int (*write)(struct vk_blockdev *bd, const struct vk_ptable *t);
    /* Set up an empty table on a disk of t->disk_sectors. */
    int (*init)(struct vk_ptable *t, bool legacy);
};

extern const struct vk_label_ops vk_label_mbr, vk_label_gpt;
const struct vk_label_ops *vk_label_ops(enum vk_label_type l);

/* Which label the disk holds: GPT wins when the MBR is protective (has an
 * 0xEE entry) or absent with a GPT header present.  Never fails for an
 * unknown disk: VK_LABEL_NONE.  Negative only on I/O errors. */
int vk_ptable_probe(struct vk_blockdev *bd);

/* Read the table of bd into t (free with vk_ptable_free).  -ENOENT with a
 * message when there is none. Damaged tables fail with a message naming
 * the partition/sectors/field. */
int vk_ptable_read(struct vk_blockdev *bd, struct vk_ptable *t);
/* An empty table of label l sized for bd. */
int vk_ptable_init(struct vk_blockdev *bd, struct vk_ptable *t, enum vk_label_type l, bool legacy);
/* Validate then write. */
int vk_ptable_write(struct vk_blockdev *bd, struct vk_ptable *t);
void vk_ptable_free(struct vk_ptable *t);

/* Overlaps, out-of-disk, extended/logical structure, MBR 32-bit limits.
 * name prefixes messages. */
int vk_ptable_validate(const struct vk_ptable *t, const char *name);

/* Partition n or NULL. */
struct vk_part *vk_ptable_find(struct vk_ptable *t, unsigned n);
/* The extended partition (MBR) or NULL. */
struct vk_part *vk_ptable_extended(struct vk_ptable *t);
bool vk_mbr_is_extended(uint8_t type);
/* Append a copy of p keeping the array sorted by number. */
int vk_ptable_insert(struct vk_ptable *t, const struct vk_part *p);
/* Fit t (read from a disk that has since grown or shrunk) to a disk of
 * disk_sectors: GPT's backup header and array go to the new end on the
 * next write and the usable range reaches them (what `part fix` does). */
void vk_ptable_fit_disk(struct vk_ptable *t, uint64_t disk_sectors);
/* Decide t->legacy_chs from its partitions (rule above). */
void vk_ptable_detect_legacy(struct vk_ptable *t);
/* Last sector a partition may use (legacy: the last whole cylinder). */
uint64_t vk_ptable_usable_end(const struct vk_ptable *t);

/* Requests of `part add`. */
struct vk_part_req {
    uint64_t start;      /* sectors; 0 = first free aligned */
    uint64_t size;       /* sectors; 0 = rest of the free gap */
    const char *type;    /* NULL = linux */
    const char *name;
    bool bootable, logical;
    unsigned number;     /* 0 = next free */
    bool exact;          /* script load: no alignment rules */
    const uint8_t *uuid; /* NULL = random */
    uint64_t attrs;
    bool positional;     /* script load: parsed from the unnamed form */
};
/* Add a partition; *number gets its number. */
int vk_part_add(struct vk_ptable *t, const struct vk_part_req *r, const char *name, unsigned *number);
int vk_part_del(struct vk_ptable *t, unsigned n, const char *name);
/* size 0 = as large as the free space after it allows. */
int vk_part_resize(struct vk_ptable *t, unsigned n, uint64_t size, const char *name);
/* Alignment of a request (start/end) for the table's geometry. */
int vk_part_check_align(const struct vk_ptable *t, const struct vk_part *p, const char *name);

/* Types: parse "linux", "swap", "fat32", "fat16", "efi", "lvm", "bios",
 * "extended", HEX (MBR) or a GUID (GPT; known MBR bytes map to GUIDs). */
int vk_part_parse_type(const struct vk_ptable *t, const char *s, struct vk_part *p);
/* Human name of p's type ("Linux", "EFI System"); never NULL. */
const char *vk_part_type_name(const struct vk_ptable *t, const struct vk_part *p);

/* GUIDs in on-disk (mixed-endian) byte order. */
void vk_guid_to_str(const uint8_t g[16], char out[37]);
int vk_guid_from_str(const char *s, uint8_t g[16]);
void vk_guid_random(uint8_t g[16]);
uint32_t vk_random32(void);

/* GPT attribute bit 2: what "bootable" means on GPT (as in sfdisk). */
#define VK_GPT_ATTR_BIOS_BOOTABLE (1ull << 2)

/* GPT attribute bits as sfdisk names them ("RequiredPartition GUID:63"). */
void vk_gpt_attrs_str(uint64_t a, char *buf, size_t len);
int vk_gpt_attrs_parse(const char *s, uint64_t *a);

/* sfdisk script format (sfdisk --dump / sfdisk < script). */
#include <stdio.h>
int vk_ptable_dump(const struct vk_ptable *t, const char *device, FILE *out);
/* Parse a script into a new table for bd (replacing whatever was read). */
int vk_ptable_load(struct vk_blockdev *bd, FILE *in, const char *name, struct vk_ptable *t);

/* Checks for `part verify`: each problem is one line in msgs (malloc'd,
 * newline separated, NULL when none).  Returns the count found. */
int vk_ptable_verify(struct vk_blockdev *bd, char **msgs);

/* CHS of a sector for MBR entries (1023/254/63 beyond the 8 GB limit). */
void vk_lba_to_chs(uint64_t lba, uint8_t chs[3]);

#endif
