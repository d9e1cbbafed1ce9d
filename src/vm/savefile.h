/* The state file of `vmkit save` / `vmkit restore`: one file holding a
 * VM's config, what vmkit needs to rebuild the identical QEMU, and QEMU's
 * migration stream.
 *
 *   offset 0     header, 128 bytes (integers little-endian):
 *      0  8  magic "VMKITSAV"
 *      8  4  version (1)
 *     12  4  flags: bit 0 = the stream is zstd-compressed
 *     16  8  meta_off     24  8  meta_len       (the metadata, JSON)
 *     32  8  stream_off   40  8  stream_len     (the stream as stored)
 *     48  8  stream_raw   (bytes QEMU sent, before compression)
 *     56 32  SHA-256 of the metadata
 *     88 32  SHA-256 of the stream as stored
 *    120  4  0            124 4  CRC-32 (zlib) of bytes 0..123
 *   128          the files (pygrub's kernel and initrd), back to back
 *   stream_off   the migration stream
 *   meta_off     the metadata, up to the end of the file
 * The metadata is a JSON object: "config" (the effective xl.cfg, its
 * machine type made concrete, e.g. pc-i440fx-7.2), "accel", "qemu"
 * (QEMU's version), "append" (the kernel command line pygrub built, or
 * absent), "files" ([{"name","offset","length","sha256"}]), "argv" (the
 * sender's QEMU command line, for people), "created" (Unix time).
 *
 * Nothing is believed before it is checked: the header's CRC, the layout
 * against the file's size (a truncated file is refused before anything
 * starts), the metadata's SHA-256, each file's SHA-256 as it is copied
 * out, and the stream's SHA-256 as it is fed to QEMU (restore resumes the
 * VM only once it matches).
 */
#ifndef VK_VM_SAVEFILE_H
#define VK_VM_SAVEFILE_H

#include "vm/migstream.h"

#include <stddef.h>
#include <stdint.h>

#define VK_SAVE_MAGIC      "VMKITSAV"
#define VK_SAVE_VERSION    1
#define VK_SAVE_HDR        128
#define VK_SAVE_ZSTD       1u
#define VK_SAVE_MAX_META   (16u << 20)
#define VK_SAVE_MAX_FILES  8

struct vk_savehdr {
    uint32_t version, flags;
    uint64_t meta_off, meta_len, stream_off, stream_len, stream_raw;
    uint8_t meta_sha[32], stream_sha[32];
};

struct vk_savefile_blob {
    char name[16];           /* "kernel", "initrd" */
    uint64_t off, len;
    uint8_t sha[32];
};

struct vk_savemeta {
    char *config;            /* xl.cfg text */
    char *accel;             /* "tcg" / "kvm" */
    char *qemu;              /* QEMU version "7.2.22" or NULL */
    char *append;            /* NULL unless pygrub */
    struct vk_savefile_blob files[VK_SAVE_MAX_FILES];
    int nfiles;
};

/* Parse and check the 128-byte header in buf against a file of
 * file_size bytes (name for messages).  Returns 0, or -EINVAL
 * "NAME: not a vmkit save file" (magic), "NAME: save file version N is
 * not supported", "NAME: save file header is damaged (checksum)",
 * "NAME: save file is truncated or damaged (...)". */
int vk_savehdr_parse(const uint8_t *buf, size_t len, uint64_t file_size, const char *name,
                     struct vk_savehdr *h);

/* Parse the metadata JSON (len bytes) of a file whose header is h; every
 * file must lie between the header and the stream.  0 or -EINVAL naming
 * the file and what is wrong.  Free with vk_savemeta_free. */
int vk_savemeta_parse(const char *json, size_t len, const struct vk_savehdr *h,
                      const char *name, struct vk_savemeta *m);
void vk_savemeta_free(struct vk_savemeta *m);

/* ---- reading ---- */
struct vk_savefile;

/* Open path, check the header, read and check the metadata (its
 * SHA-256).  Returns 0 and *out, or a negative errno with a message. */
int vk_savefile_open(const char *path, struct vk_savefile **out);
const struct vk_savemeta *vk_savefile_meta(const struct vk_savefile *f);
const struct vk_savehdr *vk_savefile_hdr(const struct vk_savefile *f);

/* Copy the file called name ("kernel") to dest (created 0600, must not
 * exist), checking its SHA-256.  -ENOENT when the save file has none;
 * -EBADMSG "PATH: kernel is damaged (checksum)". */
int vk_savefile_extract(struct vk_savefile *f, const char *name, const char *dest);

/* A source (migstream.h) reading the stream: decompressed when it was
 * compressed, hashed as stored.  After it returned 0 (end),
 * vk_savefile_stream_ok() says whether everything matched: 0, or -EBADMSG
 * "PATH: the migration stream is damaged (checksum)". */
void vk_savefile_source(struct vk_savefile *f, struct vk_mig_source *src);
int vk_savefile_stream_ok(struct vk_savefile *f);

/* For a stream stored as is (not compressed): a new descriptor of the file
 * (close-on-exec, sharing its file offset) at the stream's first byte, for
 * QEMU to read the stream itself (vk_start_opts.incoming_fd); -ENOTSUP
 * when the stream is compressed. */
int vk_savefile_stream_fd(struct vk_savefile *f);

/* Read the stored stream and check its checksum, as vk_savefile_source's
 * reader does on the way (for a stream QEMU read itself): 0, the read
 * error, or -EBADMSG "FILE: the migration stream is damaged (checksum)". */
int vk_savefile_stream_verify(struct vk_savefile *f);

void vk_savefile_close(struct vk_savefile *f);

/* ---- writing ---- */
struct vk_savefile_w;

/* Start writing a save file for path: the data goes to a hidden temporary
 * file next to it (".NAME.vmkit-PID-N"); path must not exist (-EEXIST,
 * nothing is overwritten).  compress: zstd the stream (2 threads). */
int vk_savefile_create(const char *path, int compress, struct vk_savefile_w **out);

/* Append the host file src under name (before the stream). */
int vk_savefile_add(struct vk_savefile_w *w, const char *name, const char *src);

/* A sink (migstream.h) that stores the stream. */
void vk_savefile_sink(struct vk_savefile_w *w, struct vk_mig_sink *sink);

/* Finish: write the metadata (meta: a JSON object, borrowed; "files" is
 * added), the header, sync, and give the file its name (never replacing
 * one that appeared meanwhile).  Frees w, also on failure (the temporary
 * file is then removed). */
int vk_savefile_finish(struct vk_savefile_w *w, json_t *meta);

/* Drop an unfinished file. */
void vk_savefile_abort(struct vk_savefile_w *w);

#endif
