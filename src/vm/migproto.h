/* The wire format of `vmkit migrate` -> `vmkit migrate-receive` (a pipe,
 * usually through ssh; migrate.h has the conversation around it).  The
 * save file (savefile.h) keeps its metadata at the end, which a pipe
 * cannot seek to, so the stream is framed instead:
 *
 *   header, 72 bytes (integers little-endian):
 *      0  8  magic "VMKITMIG"
 *      8  4  version (1)           12  4  flags (bit 0: live; bit 1: copy
 *                                                 storage; others 0)
 *     16  8  meta_len (1..16 MiB)  24  8  files_len (<= 1 GiB)
 *     32 32  SHA-256 of the metadata
 *     64  4  CRC-32 (zlib) of bytes 0..63       68  4  0
 *   the metadata: JSON as in a save file (savefile.h: "config", "accel",
 *     "qemu", "append", "files"); each file's "offset" counts from 128, as
 *     if in a save file, so that the files lie back to back and end at
 *     128 + files_len
 *   (the receiver answers "ready" or refuses here)
 *   the files (pygrub's kernel and initrd), files_len bytes
 *   (copy storage: the receiver answers "nbd unix:PATH" or "nbd tcp:PORT"
 *   (on all its IPv4 addresses), the NBD server its QEMU exports the new
 *   disks on, or "error: ..."; the disks it is
 *   to create are the metadata's "copy": [{"vdev": V, "size": BYTES}])
 *   the migration stream, in frames: 4-byte length (1..1 MiB), the bytes;
 *     a frame of length 0 ends it
 *   trailer, 48 bytes: "VMKITEND", 8 the stream's length, 32 its SHA-256
 *
 * Every number is checked before it is used; the parsers below take
 * untrusted bytes (fuzz/fuzz_migproto.c).
 */
#ifndef VK_VM_MIGPROTO_H
#define VK_VM_MIGPROTO_H

#include "vm/savefile.h"

#include <stddef.h>
#include <stdint.h>

#define VK_MIG_MAGIC      "VMKITMIG"
#define VK_MIG_VERSION    1
#define VK_MIG_HDR        72
#define VK_MIG_LIVE       1u
#define VK_MIG_COPY       2u
#define VK_MIG_MAX_COPY   64
#define VK_MIG_MAX_FILES  (1ull << 30)
#define VK_MIG_FRAME_MAX  (1u << 20)
#define VK_MIG_TRAILER    48
#define VK_MIG_END_MAGIC  "VMKITEND"

struct vk_mighdr {
    uint32_t version, flags;
    uint64_t meta_len, files_len;
    uint8_t meta_sha[32];
};

/* Encode h into out[VK_MIG_HDR] (version and CRC filled in). */
void vk_mighdr_encode(const struct vk_mighdr *h, uint8_t *out);

/* Parse and check the header in b (len bytes, what: the peer for
 * messages).  0, or -EINVAL "WHAT: not a vmkit migration stream",
 * "...: header is damaged (checksum)", "...: protocol version N is not
 * supported", "...: unknown flags", "...: metadata length N is out of
 * range", "...: N bytes of files is too much". */
int vk_mighdr_parse(const uint8_t *b, size_t len, const char *what, struct vk_mighdr *h);

/* Check the metadata json (h->meta_len bytes) against h's SHA-256 and
 * parse it (vk_savemeta_parse, the files laid out as described above).
 * 0 or -EINVAL / -EBADMSG "WHAT: the metadata is damaged (checksum)".
 * Free *m with vk_savemeta_free. */
int vk_migmeta_parse(const char *json, const struct vk_mighdr *h, const char *what,
                     struct vk_savemeta *m);

/* Encode the trailer of a stream of len bytes whose SHA-256 is sha. */
void vk_migtrailer_encode(uint64_t len, const uint8_t *sha, uint8_t *out);

/* Check the trailer b[VK_MIG_TRAILER] against the stream as received (len
 * bytes, SHA-256 sha).  0 or -EBADMSG "WHAT: the migration stream is
 * damaged (checksum)" / "...: bad end marker" / "...: N bytes were sent,
 * M arrived". */
int vk_migtrailer_check(const uint8_t *b, uint64_t len, const uint8_t *sha, const char *what);

/* One disk to be copied: its vdev (as in the config) and virtual size. */
struct vk_migdisk {
    char vdev[16];
    uint64_t size;
};

/* The metadata's "copy" list (json, len bytes, already checked by
 * vk_migmeta_parse) into *out (malloc'd, free()) and *n (0 and NULL when
 * there is no "copy").  -EINVAL "WHAT: bad copy list (...)" for anything
 * but an array of at most VK_MIG_MAX_COPY {"vdev": short name of
 * [a-z0-9], "size": 1..2^60}. */
int vk_migdisks_parse(const char *json, size_t len, const char *what, struct vk_migdisk **out,
                      int *n);

/* The receiver's "nbd unix:PATH" or "nbd tcp:PORT" answer (without
 * newline): PATH (absolute, shorter than a unix socket path's 108 bytes,
 * no control characters or '?', '&', '#') into path and 0 into *port, or
 * "" and PORT (1..65535).  0 or -EPROTO "WHAT: bad NBD address '...'". */
int vk_mignbd_parse(const char *line, const char *what, char *path, size_t len, int *port);

#endif
