/* Shared by block/vhdx.c (reading, writing) and block/vhdx_create.c: the
 * VHDX layout ([MS-VHDX]; the top of vhdx.c explains it). */
#ifndef VK_BLOCK_VHDX_INT_H
#define VK_BLOCK_VHDX_INT_H

#include "block/blockdev.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MiB             (1ULL << 20)
#define VHDX_HDR1       (64u << 10)
#define VHDX_RT1        (192u << 10)
#define VHDX_RT2        (256u << 10)
#define VHDX_HDR_SIZE   4096u          /* what a header's CRC covers */
#define VHDX_RT_SIZE    (64u << 10)
#define VHDX_MAX_SIZE   (64ULL << 40)  /* 64 TiB */
#define VHDX_MIN_BLOCK  (1u << 20)
#define VHDX_MAX_BLOCK  (256u << 20)
#define BAT_OFF_MASK    0xfffffffffff00000ULL

enum { PB_NOT_PRESENT = 0, PB_UNDEFINED = 1, PB_ZERO = 2, PB_UNMAPPED = 3,
       PB_UNMAPPED_OLD = 5, PB_FULL = 6, PB_PARTIAL = 7 };

/* Header field offsets. */
enum { H_CRC = 4, H_SEQ = 8, H_FILE_GUID = 16, H_DATA_GUID = 32, H_LOG_GUID = 48,
       H_LOG_VERSION = 64, H_VERSION = 66, H_LOG_LEN = 68, H_LOG_OFF = 72 };

#define GUID_BAT        "2DC27766-F623-4200-9D64-115E9BFD4A08"
#define GUID_METADATA   "8B7CA206-4790-4B9A-B8FE-575F050F886E"
#define GUID_FILE_PARAM "CAA16737-FA36-4D43-B3B6-33F0AA44E76B"
#define GUID_DISK_SIZE  "2FA54224-CD1B-4876-B211-5DBED83BF4B8"
#define GUID_PAGE83     "BECA12AB-B2E6-4523-93EF-C309E000C746"
#define GUID_LOGICAL    "8141BF1D-A96F-4709-BA47-F233A8FAAB5F"
#define GUID_PHYSICAL   "CDA348C7-445D-4471-9CC9-E9885251C556"
#define GUID_PARENT     "A8D35F2D-B30B-454D-ABF7-D3D84834AB0C"

/* "2DC27766-F623-..." into the 16 on-disk bytes: the first three fields
 * little-endian, the last two as written. */
void vhdx_guid_bytes(const char *s, uint8_t out[16]);

/* Set the CRC-32C at buf+4 over len bytes (the field counted as zero). */
void vhdx_crc_set(uint8_t *buf, size_t len);

/* The log of an open image (vhdx_log.c). */
struct vhdx_log {
    int fd;
    const char *name;
    uint64_t off;           /* the log region: MiB-aligned, inside the file */
    uint32_t len;
    const uint8_t *guid;    /* the current header's log GUID */
    bool sync;              /* fsync after replaying */
};

/* Whether the log holds an active sequence of entries for its GUID
 * (*pending); with apply, also write that sequence's changes into the
 * file, grow it to the size the entries name (*file_size updated) and
 * sync.  A null GUID or an empty log: nothing pending.  Everything is
 * validated before anything is written: -EINVAL (message naming the
 * file) for a damaged sequence, an entry naming a larger file than there
 * is, or a write past the file's end; the file is then untouched.  The
 * caller clears the log GUID in the headers after a replay. */
int vhdx_log_replay(const struct vhdx_log *l, uint64_t *file_size, bool apply, bool *pending);

/* Write one log entry at the start of l's log, for l's GUID: the n
 * (1..126) 4 KiB sectors secs[i], to be written at file offsets offs[i]
 * (4 KiB-aligned, inside the file), sequence number seq (non-zero),
 * naming file_size as the file's size; synced when l->sync.  It becomes
 * the log only when a header names its GUID; the caller then writes the
 * sectors in place and clears the GUID (vhdx.c). */
int vhdx_log_write(const struct vhdx_log *l, const uint64_t *offs, uint8_t *const *secs, uint32_t n,
                   uint64_t seq, uint64_t file_size);

/* vk_format_vhdx's create: a dynamic or fixed image at path (created
 * O_EXCL, removed again on failure). */
int vhdx_create(const char *path, const struct vk_create_opts *o);

#endif
