/* Whole-disk backups into a repository directory (README "Backup
 * repository format" is the format's definition):
 *
 *   REPO/config                   JSON: format version, chunk size, hash,
 *                                 compression, encryption ("none", or
 *                                 "aes-256-gcm" with its scrypt
 *                                 parameters and wrapped key: crypt.h)
 *   REPO/lock                     flock'd by the one writer
 *   REPO/chunks/XX/<sha256 hex>   one chunk, a zstd frame; XX = first two
 *                                 hex digits; the name is the SHA-256 of
 *                                 the uncompressed bytes
 *   REPO/snapshots/<id>.json      one backup: the disk's size, partitions,
 *                                 and which chunk holds each chunk-sized
 *                                 block of the disk (absent: zeroes)
 *
 * A disk is cut into fixed, block-aligned chunks at multiples of the
 * repository's chunk size; a chunk's bytes are the disk's with everything
 * the filesystems do not use replaced by zeroes, so free blocks are never
 * stored and unused chunks are holes.  Crash order: every chunk is written
 * under a temporary name, fsync'd, renamed and its directory fsync'd
 * before the snapshot that names it is published the same way, so a
 * snapshot never names a chunk that is not durable.
 *
 * int functions return 0 or a negative errno after vk_error() naming the
 * repository, snapshot, chunk or disk. */
#ifndef VK_BACKUP_BACKUP_H
#define VK_BACKUP_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup/crypt.h"

#define VK_BK_CHUNK_DEFAULT (1u << 20)  /* 1 MiB: measured (README, bench/backup.sh) */
#define VK_BK_CHUNK_MIN     (64u << 10)
#define VK_BK_CHUNK_MAX     (64u << 20)
#define VK_BK_ID_MAX        64          /* snapshot id length */
#define VK_BK_INDEX_MAX     (256u << 20) /* largest snapshot file read */

/* One chunk-sized block of the disk that is not a hole. */
struct vk_bk_extent {
    uint64_t off;           /* a multiple of the chunk size */
    uint32_t len;           /* the chunk size, less at the disk's end */
    uint8_t id[32];         /* the chunk's name (vk_bk_chunk_id) */
};

/* A partition as the backup found it (for info and later per-partition
 * restores). */
struct vk_bk_part {
    unsigned number;
    uint64_t start, size;   /* bytes */
    char fs[16];            /* "ext4", "vfat", "swap"; "" if unknown */
    uint64_t kept;          /* bytes the used-block map kept */
};

/* A parsed snapshot index. */
struct vk_bk_snap {
    char id[VK_BK_ID_MAX + 1];
    char *name;             /* --name, or the disk's file name */
    char *time;             /* UTC, ISO 8601 */
    char *source;           /* the disk as named to save */
    char *source_format;    /* "raw", "qcow2"... */
    char table[8];          /* "mbr", "gpt", "none" */
    uint64_t size;          /* the disk's virtual size */
    uint32_t chunk_size;
    uint64_t kept;          /* bytes of the disk the map kept */
    uint64_t new_chunks, new_bytes;     /* what this save added */
    struct vk_bk_part *parts;
    size_t nparts;
    struct vk_bk_extent *ext;   /* ascending offsets */
    size_t next;
};

/* index.c: parse the bytes of a snapshot file (untrusted: bounded,
 * every field checked: offsets aligned, ascending, inside the disk, each
 * length exactly the chunk's) into *s (free with vk_bk_snap_free).  what
 * names the file in messages.  -EINVAL on anything malformed. */
int vk_bk_index_parse(const char *buf, size_t len, const char *what, struct vk_bk_snap *s);
/* The JSON text of s (malloc'd, NUL-terminated), or NULL (-ENOMEM). */
char *vk_bk_index_dump(const struct vk_bk_snap *s);
/* The text of JSON value j (reference stolen; NULL gives NULL), indented
 * by indent, keys in order, ending in a newline: malloc'd, or NULL. */
typedef struct json_t json_t;
char *vk_bk_json_text(json_t *j, int indent);
void vk_bk_snap_free(struct vk_bk_snap *s);

/* config.c: a repository's config (REPO/config). */
struct vk_bk_config {
    uint32_t chunk_size;
    bool encrypted;         /* aes-256-gcm, chunks named by HMAC-SHA-256 */
    struct vk_bk_kdf kdf;   /* encrypted: scrypt's parameters */
    uint8_t wrapped[VK_BK_WRAPPED];     /* encrypted: the sealed master key */
};
/* Parse the bytes of a config file (untrusted: every field checked, the
 * scrypt parameters bounded) into *c; path names it in messages.
 * -EINVAL malformed, -ENOTSUP a version, hash, compression or encryption
 * this vmkit does not know. */
int vk_bk_config_parse(const char *buf, size_t len, const char *path, struct vk_bk_config *c);
/* The config file's text (malloc'd, ends in a newline), NULL (-ENOMEM). */
char *vk_bk_config_dump(const struct vk_bk_config *c);

/* repo.c: an open repository. */
struct vk_bk_repo {
    char *path;
    uint32_t chunk_size;
    struct vk_bk_config cfg;
    bool unlocked;          /* encrypted: keys below derived (vk_bk_unlock) */
    uint8_t keys[VK_BK_MASTER]; /* AES-256-GCM key || HMAC-SHA-256 key */
    int lock_fd;            /* -1 unless locked for writing */
    void *zc, *zd;          /* zstd contexts, made on first use */
    uint8_t *cbuf;          /* a compressed chunk */
    size_t cbuf_cap;
    struct vk_bk_pending *pend; /* chunks written, not yet synced and named */
    size_t npend, pend_cap;
    uint64_t pend_bytes;
    unsigned long seq;      /* for their temporary names */
};

/* Create the repository directory path (which must not exist, or be an
 * empty directory) with chunk_size (0: the default; a power of two in
 * [VK_BK_CHUNK_MIN, VK_BK_CHUNK_MAX]).  -EEXIST when it holds anything.
 * secret (NULL: not encrypted) is the passphrase or key file's bytes (1
 * to VK_BK_SECRET_MAX) of an encrypted repository: a random master key is
 * sealed under scrypt(secret) in the config. */
int vk_bk_init(const char *path, uint32_t chunk_size, const void *secret, size_t secret_len);
/* Open the repository at path; write: take the writer's lock (-EBUSY when
 * another process holds it).  Not a repository: -ENOENT/-EINVAL.  An
 * encrypted one (r->cfg.encrypted) reads and writes nothing until
 * vk_bk_unlock. */
int vk_bk_open(const char *path, bool write, struct vk_bk_repo *r);
/* Derive the keys of encrypted repository r from secret.  -EACCES when
 * it does not open the master key (a wrong passphrase, or an altered
 * config). */
int vk_bk_unlock(struct vk_bk_repo *r, const void *secret, size_t len);
void vk_bk_close(struct vk_bk_repo *r);

/* "REPO/chunks/ab/abcd..." for id into buf (PATH_MAX). */
void vk_bk_chunk_path(const struct vk_bk_repo *r, const uint8_t id[32], char *buf, size_t len);
void vk_bk_hex(const uint8_t id[32], char out[65]);
/* SHA-256 of len bytes. */
int vk_bk_sha256(const void *data, size_t len, uint8_t out[32]);
/* The name of a chunk of len bytes in r: their SHA-256, or in an
 * encrypted repository their HMAC-SHA-256 under its MAC key. */
int vk_bk_chunk_id(const struct vk_bk_repo *r, const void *data, size_t len, uint8_t out[32]);
/* Store data (len bytes, id its vk_bk_chunk_id) unless the chunk exists
 * (or waits in the batch); *added set when it was written, *stored to the
 * compressed size written.  New chunks are written under temporary names
 * and synced and named in batches: only vk_bk_chunk_flush (which
 * vk_bk_snap_write calls first, and a full batch) makes them durable and
 * visible, so a snapshot never names a chunk that is not on disk;
 * vk_bk_close drops what was not flushed. */
int vk_bk_chunk_put(struct vk_bk_repo *r, const uint8_t id[32], const void *data, size_t len,
                    bool *added, uint64_t *stored);
/* Sync the batch of new chunks, then give them their names and sync the
 * directories.  0, or a negative errno with the unnamed ones removed. */
int vk_bk_chunk_flush(struct vk_bk_repo *r);
/* Read chunk id, which must hold exactly len bytes, into buf: decrypt
 * (an encrypted repository), decompress and check it against id.  -ENOENT missing, -EBADMSG damaged
 * (the message says how). */
int vk_bk_chunk_get(struct vk_bk_repo *r, const uint8_t id[32], void *buf, size_t len);
/* Whether chunk id exists (0 no, 1 yes, <0 error). */
int vk_bk_chunk_exists(struct vk_bk_repo *r, const uint8_t id[32]);

/* The ids of every snapshot (sorted; oldest first as ids start with the
 * time), *ids malloc'd array of malloc'd strings. */
int vk_bk_snap_ids(struct vk_bk_repo *r, char ***ids, size_t *n);
void vk_bk_ids_free(char **ids, size_t n);
/* Load snapshot spec: an id, "latest", or a name (the newest snapshot
 * of that name).  -ENOENT naming spec when none matches. */
int vk_bk_snap_load(struct vk_bk_repo *r, const char *spec, struct vk_bk_snap *s);
/* Publish s as REPO/snapshots/<s->id>.json: temp file, fsync, rename,
 * directory fsync. */
int vk_bk_snap_write(struct vk_bk_repo *r, const struct vk_bk_snap *s);

typedef void (*vk_bk_progress_fn)(uint64_t done, uint64_t total, void *ctx);

/* save.c: back the disk image up (any format vmkit reads) into r (opened
 * for writing), the snapshot named name (NULL: the disk's file name).
 * *out gets the published snapshot (free with vk_bk_snap_free). */
int vk_bk_save(struct vk_bk_repo *r, const char *disk, const char *name,
               vk_bk_progress_fn progress, void *pctx, struct vk_bk_snap *out);
/* The same from the open disk bd, recorded as source disk of format
 * (NULL: bd's); name NULL: disk's file name. */
struct vk_blockdev;
int vk_bk_save_bd(struct vk_bk_repo *r, struct vk_blockdev *bd, const char *disk,
                  const char *format, const char *name, vk_bk_progress_fn progress, void *pctx,
                  struct vk_bk_snap *out);

/* save_vm.c: back up every writable local disk of VM vm (not CD-ROMs,
 * read-only or network disks), each as a snapshot named name (NULL: the
 * VM's name), or name-VDEV when it has several.  A running VM's disks
 * are frozen at one instant (vm/freeze.h: qcow2 overlays taken in one
 * QMP transaction, merged back afterwards) while the guest runs on; a
 * defined VM that is not running has its images read as they are.
 * -ENOENT when vm is neither. */
struct vk_bk_vm_report {
    vk_bk_progress_fn progress;
    void *pctx;
    void (*saved)(const struct vk_bk_snap *s, const char *vdev, void *ctx);
    void *ctx;
};
int vk_bk_save_vm(struct vk_bk_repo *r, const char *vm, const char *name,
                  const struct vk_bk_vm_report *rep);

/* How to restore (restore.c, restore_part.c). */
struct vk_bk_restore_opts {
    const char *fmt;        /* new image: "raw" (NULL) or "qcow2" */
    bool force;             /* replace an existing image */
    uint64_t size;          /* new image: 0 the disk's size, or larger */
    bool grow;              /* grow the last partition (or the target's
                             * filesystem) to the end */
    vk_bk_progress_fn progress;
    void *pctx;
};
/* What --grow did: the partition grown (0: a whole-disk filesystem or
 * none), its new size, and whether its filesystem was grown; if not, why
 * (no filesystem, one that cannot be grown, a FAT whose FAT is too small)
 * in note, which also gets resize2fs's output when it failed. */
struct vk_bk_grown {
    unsigned part;
    uint64_t part_size;
    bool fs_grown;
    char note[512];
};

/* restore.c: write snapshot s to a new image dest (o->fmt), through
 * dest.partial renamed at the end; an existing dest is refused (-EEXIST)
 * unless o->force.  Every chunk is checked against its id before it is
 * written; holes are not written.  o->size above the disk's size makes
 * the image that large and, with o->grow, the last partition and its
 * filesystem are grown to its end; below it, they are shrunk to fit
 * (vk_bk_shrink_last; refused when they cannot be).  g (may be NULL) says
 * what was done.  All before the rename: a failure leaves no dest. */
int vk_bk_restore(struct vk_bk_repo *r, const struct vk_bk_snap *s, const char *dest,
                  const struct vk_bk_restore_opts *o, struct vk_bk_grown *g);

/* restore_part.c: write partition n of snapshot s into partition m of the
 * existing disk dest ("DISK:M", part/target.h), touching nothing outside
 * it.  Refused before anything is written (-ENOSPC, both sizes named)
 * when it does not fit, -ENOENT when s has no partition n or a chunk is
 * missing.  The partition's first MiB is zeroed first and written last,
 * so a restore that fails midway leaves a partition with no filesystem
 * signature (the message says so), never a plausible half filesystem.
 * With o->grow the filesystem is grown to fill a larger partition m. */
int vk_bk_restore_part(struct vk_bk_repo *r, const struct vk_bk_snap *s, unsigned n,
                       const char *dest, const struct vk_bk_restore_opts *o,
                       struct vk_bk_grown *g);

/* grow.c: grow the last partition of disk (MBR: a logical one with its
 * extended partition; GPT: the backup moved to the end, and the old one,
 * at old_size, zeroed) to the disk's end, and its filesystem with it; a
 * disk with no table: the filesystem on it.  g says what was done; dname
 * names the disk in what it says. */
struct vk_blockdev;
int vk_bk_grow_last(struct vk_blockdev *disk, const char *dname, uint64_t old_size,
                    struct vk_bk_grown *g);
/* Shrink disk (restored at the snapshot's size, larger than new_size) to
 * new_size: the partition that ends last (a logical one with its extended
 * partition) is cut to end at the smaller disk's usable end, its
 * filesystem shrunk first through its resize op (resize2fs's rules for
 * ext: refused when the data does not fit; FAT: when its last clusters
 * are used), the table written for the new size (GPT: backup at the new
 * end), then the image truncated.  A disk with no table: the filesystem
 * on it.  Any other partition past the new end, or a filesystem that
 * cannot shrink (swap, unknown contents): refused (-ENOSPC, -ENOTSUP...),
 * with the tool's words in g->note; the caller discards the image. */
int vk_bk_shrink_last(struct vk_blockdev *disk, const char *dname, uint64_t new_size,
                      struct vk_bk_grown *g);
/* Grow the filesystem on [off, off+len) of disk (named name) to len;
 * one that cannot be grown is not an error (g->note says why). */
int vk_bk_grow_fs(struct vk_blockdev *disk, uint64_t off, uint64_t len, const char *name,
                  struct vk_bk_grown *g);

/* verify: each problem is reported as one message (naming the chunk and
 * the snapshots it touches) through bad. */
typedef void (*vk_bk_bad_fn)(const char *msg, void *ctx);
struct vk_bk_verify_stats {
    size_t snapshots, chunks, bad_chunks, bad_snapshots;
};
/* Check every snapshot parses and every chunk it names exists; with
 * read_data, that each decompresses to its length and hashes to its id.
 * Returns 0 when all is well, 1 when something is bad (reported through
 * bad), <0 when verification itself could not run. */
int vk_bk_verify(struct vk_bk_repo *r, bool read_data, vk_bk_bad_fn bad, void *ctx,
                 vk_bk_progress_fn progress, void *pctx, struct vk_bk_verify_stats *st);

/* prune.c: remove the snapshot files that policy p does not keep
 * (retain.h: borg's rules over the UTC times the ids start with).  r
 * opened for writing (the lock held), or with dry_run only reading:
 * nothing is changed.  report (may be NULL) gets every snapshot, oldest
 * first, with its verdict (rule < 0: removed, or would be), each removal
 * reported after its unlink.  Returns how many were (or would be)
 * removed; -EINVAL, nothing removed, when an id does not start with its
 * time. */
struct vk_bk_policy;
struct vk_bk_verdict;
typedef void (*vk_bk_prune_fn)(const char *id, const struct vk_bk_verdict *v, void *ctx);
int vk_bk_prune(struct vk_bk_repo *r, const struct vk_bk_policy *p, bool dry_run,
                vk_bk_prune_fn report, void *ctx);
struct vk_bk_gc_stats {
    size_t chunks_removed, temp_files;
};
/* Delete every chunk no snapshot names, and the temporary files an
 * interrupted save left ('.' names in chunks/XX/ and snapshots/).
 * Refused (nothing deleted) when any snapshot cannot be read. */
int vk_bk_gc(struct vk_bk_repo *r, struct vk_bk_gc_stats *st);

/* snapbd.c: a read-only block device (the disk as saved) over snapshot
 * s of r, read straight from the chunks: each one read is checked against
 * its id (a damaged chunk fails the read), holes read as zeroes.  r and s
 * must outlive the device; it is named "snapshot <id>". */
struct vk_blockdev;
int vk_bk_snap_bd_open(struct vk_bk_repo *r, const struct vk_bk_snap *s, struct vk_blockdev **out);

/* clonezilla.c: write snapshot s of r as a new Clonezilla image
 * directory dir (Clonezilla's savedisk layout for a disk named sda: see
 * clonezilla.c), partclone images zstd-compressed and split into pieces
 * of split bytes (at least VK_BK_SPLIT_MIN).  Built as dir.tmp-XXXXXX and
 * renamed when complete: an existing dir is refused (-EEXIST), and a
 * failure leaves nothing.  cmdline (may be NULL) is recorded as
 * Info-saved-by-cmd.txt.  A snapshot without a partition table:
 * -ENOTSUP. */
#define VK_BK_SPLIT_MIN (1u << 20)
#define VK_BK_SPLIT_DEFAULT (4ull << 30)
int vk_bk_export(struct vk_bk_repo *r, const struct vk_bk_snap *s, const char *dir,
                 uint64_t split, const char *cmdline, vk_bk_progress_fn progress, void *pctx);

/* import.c: read the Clonezilla image directory dir (one disk: the
 * disk and parts files, <disk>-pt.sf, the MBR, hidden data and GPT
 * copies when present, and for each partition a partclone image or a dd
 * image, split .aa, .ab ..., zstd, gzip or uncompressed) into r (opened
 * for writing) as a new snapshot named name (NULL: dir's name), as save
 * would have stored the disk.  The disk is rebuilt as a sparse file
 * under REPO/snapshots/ (a '.' name gc removes) holding only the blocks
 * the images mark used, and saved from there; nothing is published
 * unless every image reads cleanly (partclone.h: every checksum). */
int vk_bk_import(struct vk_bk_repo *r, const char *dir, const char *name,
                 vk_bk_progress_fn progress, void *pctx, struct vk_bk_snap *out);

#endif
