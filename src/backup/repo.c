/* A backup repository on disk: its config, the writer's lock, chunk files
 * and snapshot files (backup.h describes the layout; README the format). */
#include "backup/backup.h"

#include "block/blockdev.h"
#include "util/err.h"
#include "util/file.h"
#include "util/str.h"
#include "util/vec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define CONFIG_MAX 4096
#define ZSTD_LEVEL 3
/* New chunks are synced in batches (vk_bk_chunk_flush): one fsync each
 * costs a journal commit, a batch's cost about one. */
#define BATCH_CHUNKS 256
#define BATCH_BYTES (256u << 20)

static void drop_pending(struct vk_bk_repo *r);
static bool pending(const struct vk_bk_repo *r, const uint8_t id[32]);

/* A chunk written under its temporary name, not yet synced nor named. */
struct vk_bk_pending {
    uint8_t id[32];
    int fd;
    char tmp[PATH_MAX];
};

/* Write len bytes to a new file tmp, then publish it as path (fsync,
 * rename never replacing, directory fsync). */
static int write_new_file(const char *tmp, const char *path, const void *data, size_t len)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", tmp, strerror(errno));
    int r = vk_fd_pwrite_full(fd, data, len, 0, tmp);
    if (close(fd) < 0 && r >= 0)
        r = vk_error(-errno, "%s: %s", tmp, strerror(errno));
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    return vk_publish(tmp, path);
}

/* Make path (new, or an empty directory) with chunks/XX/, snapshots/
 * and the lock file. */
static int make_dirs(const char *path)
{
    char p[PATH_MAX];
    if (mkdir(path, 0755) < 0) {
        if (errno != EEXIST)
            return vk_error(-errno, "%s: %s", path, strerror(errno));
        DIR *d = opendir(path);
        if (!d)
            return vk_error(-errno, "%s: %s", path, strerror(errno));
        struct dirent *de;
        bool empty = true;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                empty = false;
        closedir(d);
        if (!empty)
            return vk_error(-EEXIST, "%s: exists and is not empty", path);
    }
    const char *dirs[] = { "chunks", "snapshots" };
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", path, dirs[i]);
        if (mkdir(p, 0755) < 0)
            return vk_error(-errno, "%s: %s", p, strerror(errno));
    }
    for (unsigned i = 0; i < 256; i++) {
        snprintf(p, sizeof p, "%s/chunks/%02x", path, i);
        if (mkdir(p, 0755) < 0)
            return vk_error(-errno, "%s: %s", p, strerror(errno));
    }
    snprintf(p, sizeof p, "%s/lock", path);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", p, strerror(errno));
    close(fd);
    /* Every new name durable before the config that makes it a repository
     * is: a power cut must not leave a config over missing chunk
     * directories. */
    snprintf(p, sizeof p, "%s/chunks", path);
    int r = vk_fsync_dir(p);
    if (r == 0)
        r = vk_fsync_dir(path);
    return r == 0 ? vk_fsync_parent(path) : r;
}

/* The associated data of the sealed master key: it binds the key to the
 * config's chunk size, so an altered config does not open. */
static void key_aad(uint32_t chunk_size, char *buf, size_t len)
{
    snprintf(buf, len, "vmkit-backup key v1 chunk_size=%u", chunk_size);
}

/* Fill c's encryption fields: a random master key (into keys) sealed
 * under scrypt(secret) with a random salt. */
static int new_key(struct vk_bk_config *c, const void *secret, size_t len, const char *path,
                   uint8_t keys[VK_BK_MASTER])
{
    if (!len || len > VK_BK_SECRET_MAX)
        return vk_error(-EINVAL, "%s: the passphrase or key file must hold 1 to %u bytes", path,
                        VK_BK_SECRET_MAX);
    uint8_t kek[32];
    char aad[64];
    c->encrypted = true;
    c->kdf = (struct vk_bk_kdf){ .n = VK_BK_KDF_N, .r = VK_BK_KDF_R, .p = VK_BK_KDF_P };
    key_aad(c->chunk_size, aad, sizeof aad);
    int e = vk_bk_random(c->kdf.salt, sizeof c->kdf.salt);
    if (e == 0)
        e = vk_bk_random(keys, VK_BK_MASTER);
    if (e == 0)
        e = vk_bk_kdf_derive(secret, len, &c->kdf, kek);
    if (e == 0) {
        memcpy(c->wrapped + VK_BK_NONCE, keys, VK_BK_MASTER);
        e = vk_bk_seal(kek, aad, strlen(aad), c->wrapped, VK_BK_MASTER);
    }
    OPENSSL_cleanse(kek, sizeof kek);
    return e;
}

int vk_bk_init(const char *path, uint32_t chunk_size, const void *secret, size_t secret_len)
{
    char p[PATH_MAX], tmp[PATH_MAX];
    if (!chunk_size)
        chunk_size = VK_BK_CHUNK_DEFAULT;
    if (chunk_size < VK_BK_CHUNK_MIN || chunk_size > VK_BK_CHUNK_MAX ||
        (chunk_size & (chunk_size - 1)))
        return vk_error(-EINVAL, "%s: chunk size %u is not a power of two from %u to %u", path,
                        chunk_size, VK_BK_CHUNK_MIN, VK_BK_CHUNK_MAX);
    struct vk_bk_config c = { .chunk_size = chunk_size };
    uint8_t keys[VK_BK_MASTER];
    int e = secret ? new_key(&c, secret, secret_len, path, keys) : 0;
    OPENSSL_cleanse(keys, sizeof keys);
    if (e < 0)
        return e;
    char *cfg = vk_bk_config_dump(&c);
    if (!cfg)
        return vk_error(-ENOMEM, "out of memory");
    e = make_dirs(path);
    if (e == 0) {
        /* The config last: a directory without one is not a repository. */
        snprintf(p, sizeof p, "%s/config", path);
        snprintf(tmp, sizeof tmp, "%s/.config.tmp-%ld", path, (long)getpid());
        e = write_new_file(tmp, p, cfg, strlen(cfg));
    }
    free(cfg);
    return e;
}

/* Read and check REPO/config into c. */
static int read_config(const char *path, struct vk_bk_config *c)
{
    char p[PATH_MAX], *data;
    size_t len;
    snprintf(p, sizeof p, "%s/config", path);
    struct stat st;
    if (stat(path, &st) < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return vk_error(-ENOTDIR, "%s: not a vmkit backup repository (not a directory)", path);
    if (access(p, F_OK) < 0)
        return vk_error(-ENOENT, "%s: not a vmkit backup repository (no config file)", path);
    int r = vk_read_small_file(p, CONFIG_MAX, &data, &len);
    if (r < 0)
        return r;
    r = vk_bk_config_parse(data, len, path, c);
    free(data);
    return r;
}

int vk_bk_open(const char *path, bool write, struct vk_bk_repo *r)
{
    memset(r, 0, sizeof *r);
    r->lock_fd = -1;
    int e = read_config(path, &r->cfg);
    if (e < 0)
        return e;
    r->chunk_size = r->cfg.chunk_size;
    if (!(r->path = strdup(path)))
        return vk_error(-ENOMEM, "out of memory");
    if (write) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/lock", path);
        r->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (r->lock_fd < 0) {
            e = vk_error(-errno, "%s: %s", p, strerror(errno));
        } else if (flock(r->lock_fd, LOCK_EX | LOCK_NB) < 0) {
            e = errno == EWOULDBLOCK
                ? vk_error(-EBUSY, "%s: locked by another writer (a backup is running)", path)
                : vk_error(-errno, "%s: %s", p, strerror(errno));
        }
        if (e < 0) {
            vk_bk_close(r);
            return e;
        }
    }
    return 0;
}

int vk_bk_unlock(struct vk_bk_repo *r, const void *secret, size_t len)
{
    if (!r->cfg.encrypted)
        return 0;
    uint8_t kek[32], w[VK_BK_WRAPPED];
    char aad[64];
    key_aad(r->chunk_size, aad, sizeof aad);
    memcpy(w, r->cfg.wrapped, sizeof w);
    int e = vk_bk_kdf_derive(secret, len, &r->cfg.kdf, kek);
    if (e == 0 && (e = vk_bk_unseal(kek, aad, strlen(aad), w, sizeof w)) == -EBADMSG)
        e = vk_error(-EACCES, "%s: wrong passphrase or key file (or an altered config)", r->path);
    if (e == 0) {
        memcpy(r->keys, w + VK_BK_NONCE, VK_BK_MASTER);
        r->unlocked = true;
    }
    OPENSSL_cleanse(kek, sizeof kek);
    OPENSSL_cleanse(w, sizeof w);
    return e;
}

/* 0 when r's chunks and snapshots can be read and written. */
static int need_keys(const struct vk_bk_repo *r)
{
    if (r->cfg.encrypted && !r->unlocked)
        return vk_error(-EACCES, "%s: encrypted repository, and no passphrase or key file given",
                        r->path);
    return 0;
}

void vk_bk_close(struct vk_bk_repo *r)
{
    drop_pending(r);            /* never synced: named by no snapshot */
    free(r->pend);
    OPENSSL_cleanse(r->keys, sizeof r->keys);
    if (r->lock_fd >= 0)
        close(r->lock_fd);      /* releases the flock */
    ZSTD_freeCCtx(r->zc);
    ZSTD_freeDCtx(r->zd);
    free(r->cbuf);
    free(r->path);
    memset(r, 0, sizeof *r);
    r->lock_fd = -1;
}

void vk_bk_hex(const uint8_t id[32], char out[65])
{
    vk_hex_encode(id, 32, out);
}

void vk_bk_chunk_path(const struct vk_bk_repo *r, const uint8_t id[32], char *buf, size_t len)
{
    char hex[65];
    vk_bk_hex(id, hex);
    snprintf(buf, len, "%s/chunks/%.2s/%s", r->path, hex, hex);
}

int vk_bk_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned n = 0;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != 32)
        return vk_error(-EIO, "SHA-256 failed (libcrypto)");
    return 0;
}

int vk_bk_chunk_exists(struct vk_bk_repo *r, const uint8_t id[32])
{
    char p[PATH_MAX];
    vk_bk_chunk_path(r, id, p, sizeof p);
    if (access(p, F_OK) == 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    return vk_error(-errno, "%s: %s", p, strerror(errno));
}

int vk_bk_chunk_id(const struct vk_bk_repo *r, const void *data, size_t len, uint8_t out[32])
{
    if (!r->cfg.encrypted)
        return vk_bk_sha256(data, len, out);
    int e = need_keys(r);
    return e < 0 ? e : vk_bk_hmac(r->keys + 32, data, len, out);
}

/* cbuf large enough for a chunk of len bytes compressed (and sealed). */
static int need_cbuf(struct vk_bk_repo *r, size_t len)
{
    size_t want = ZSTD_compressBound(len) + VK_BK_SEAL_OVERHEAD;
    if (want <= r->cbuf_cap)
        return 0;
    uint8_t *nb = realloc(r->cbuf, want);
    if (!nb)
        return vk_error(-ENOMEM, "out of memory for a %zu-byte chunk", want);
    r->cbuf = nb;
    r->cbuf_cap = want;
    return 0;
}

int vk_bk_chunk_put(struct vk_bk_repo *r, const uint8_t id[32], const void *data, size_t len,
                    bool *added, uint64_t *stored)
{
    char p[PATH_MAX];
    *added = false;
    *stored = 0;
    int e = need_keys(r);
    if (e < 0)
        return e;
    e = vk_bk_chunk_exists(r, id);
    if (e != 0)
        return e < 0 ? e : 0;
    if (pending(r, id))
        return 0;
    if ((e = need_cbuf(r, len)) < 0)
        return e;
    if (!r->zc) {
        if (!(r->zc = ZSTD_createCCtx()))
            return vk_error(-ENOMEM, "out of memory for zstd");
        ZSTD_CCtx_setParameter(r->zc, ZSTD_c_compressionLevel, ZSTD_LEVEL);
        ZSTD_CCtx_setParameter(r->zc, ZSTD_c_checksumFlag, 1);
        /* Both cores: zstd splits a chunk into jobs of 1 MiB.  A libzstd
         * built without threads refuses the parameter and stays serial. */
        if (!ZSTD_isError(ZSTD_CCtx_setParameter(r->zc, ZSTD_c_nbWorkers, 2)))
            ZSTD_CCtx_setParameter(r->zc, ZSTD_c_jobSize, 1 << 20);
    }
    /* Sealed: nonce || ciphertext of the frame || tag, the chunk's name
     * as associated data (a chunk file copied under another name fails). */
    size_t at = r->cfg.encrypted ? VK_BK_NONCE : 0;
    size_t n = ZSTD_compress2(r->zc, r->cbuf + at, r->cbuf_cap - VK_BK_SEAL_OVERHEAD, data, len);
    if (ZSTD_isError(n))
        return vk_error(-EIO, "%s: zstd: %s", r->path, ZSTD_getErrorName(n));
    if (r->cfg.encrypted) {
        if ((e = vk_bk_seal(r->keys, id, 32, r->cbuf, n)) < 0)
            return e;
        n += VK_BK_SEAL_OVERHEAD;
    }
    vk_bk_chunk_path(r, id, p, sizeof p);
    struct vk_bk_pending *pv = vk_grow(r->pend, &r->pend_cap, r->npend + 1, sizeof *pv, 64);
    if (!pv)
        return vk_error(-ENOMEM, "out of memory");
    r->pend = pv;
    struct vk_bk_pending *q = &pv[r->npend];
    snprintf(q->tmp, sizeof q->tmp, "%.*s.tmp-%ld-%lu", (int)(strrchr(p, '/') + 1 - p), p,
             (long)getpid(), ++r->seq);
    memcpy(q->id, id, 32);
    if ((q->fd = open(q->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
        return vk_error(-errno, "%s: %s", q->tmp, strerror(errno));
    if ((e = vk_fd_pwrite_full(q->fd, r->cbuf, n, 0, q->tmp)) < 0) {
        close(q->fd);
        unlink(q->tmp);
        return e;
    }
    /* its writeback starts now; the batch's fsyncs wait for it */
    sync_file_range(q->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    r->npend++;
    r->pend_bytes += n;
    *added = true;
    *stored = n;
    if (r->npend >= BATCH_CHUNKS || r->pend_bytes >= BATCH_BYTES)
        return vk_bk_chunk_flush(r);
    return 0;
}

/* Drop the pending chunks (not named: their temporary files go). */
static void drop_pending(struct vk_bk_repo *r)
{
    for (size_t i = 0; i < r->npend; i++) {
        if (r->pend[i].fd >= 0)
            close(r->pend[i].fd);
        unlink(r->pend[i].tmp);
    }
    r->npend = 0;
    r->pend_bytes = 0;
}

int vk_bk_chunk_flush(struct vk_bk_repo *r)
{
    int e = 0;
    /* 1: every pending chunk's bytes durable */
    for (size_t i = 0; i < r->npend && !e; i++) {
        struct vk_bk_pending *q = &r->pend[i];
        if (fsync(q->fd) < 0 || close(q->fd) < 0)
            e = vk_error(-errno, "%s: %s", q->tmp, strerror(errno));
        q->fd = -1;
    }
    /* 2: then their names (never over an existing chunk: the same bytes) */
    uint8_t dirs[32] = { 0 };   /* a bit per chunks/XX directory renamed into */
    size_t done = 0;
    for (; done < r->npend && !e; done++) {
        struct vk_bk_pending *q = &r->pend[done];
        char p[PATH_MAX];
        vk_bk_chunk_path(r, q->id, p, sizeof p);
        if (renameat2(AT_FDCWD, q->tmp, AT_FDCWD, p, RENAME_NOREPLACE) < 0) {
            if (errno != EEXIST)
                e = vk_error(-errno, "%s: %s", p, strerror(errno));
            unlink(q->tmp);
            continue;
        }
        dirs[q->id[0] >> 3] |= (uint8_t)(1u << (q->id[0] & 7));
    }
    if (e) {                    /* what was not named goes */
        memmove(r->pend, r->pend + done, (r->npend - done) * sizeof *r->pend);
        r->npend -= done;
        drop_pending(r);
    } else {                    /* every temporary name is gone already */
        r->npend = 0;
        r->pend_bytes = 0;
    }
    /* 3: the names durable */
    for (unsigned d = 0; d < 256 && !e; d++) {
        if (!(dirs[d >> 3] & (1u << (d & 7))))
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/chunks/%02x", r->path, d);
        e = vk_fsync_dir(p);
    }
    return e;
}

/* Whether chunk id waits in the current batch. */
static bool pending(const struct vk_bk_repo *r, const uint8_t id[32])
{
    for (size_t i = r->npend; i-- > 0;)
        if (!memcmp(r->pend[i].id, id, 32))
            return true;
    return false;
}

int vk_bk_chunk_get(struct vk_bk_repo *r, const uint8_t id[32], void *buf, size_t len)
{
    char p[PATH_MAX];
    vk_bk_chunk_path(r, id, p, sizeof p);
    int e = need_keys(r);
    if (e == 0)
        e = need_cbuf(r, len);
    if (e < 0)
        return e;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vk_error(-errno, "chunk %s: %s", p, errno == ENOENT ? "missing" : strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        e = vk_error(-errno, "chunk %s: %s", p, strerror(errno));
    } else if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > r->cbuf_cap) {
        e = vk_error(-EBADMSG, "chunk %s: damaged (%lld bytes, at most %zu for %zu bytes of data)",
                     p, (long long)st.st_size, r->cbuf_cap, len);
    } else {
        e = vk_fd_pread_full(fd, r->cbuf, (size_t)st.st_size, 0, p);
    }
    close(fd);
    if (e < 0)
        return e;
    const uint8_t *frame = r->cbuf;
    size_t flen = (size_t)st.st_size;
    if (r->cfg.encrypted) {
        if (vk_bk_unseal(r->keys, id, 32, r->cbuf, flen) < 0)
            return vk_error(-EBADMSG, "chunk %s: damaged (it fails authentication)", p);
        frame += VK_BK_NONCE;
        flen -= VK_BK_SEAL_OVERHEAD;
    }
    if (!r->zd && !(r->zd = ZSTD_createDCtx()))
        return vk_error(-ENOMEM, "out of memory for zstd");
    unsigned long long fcs = ZSTD_getFrameContentSize(frame, flen);
    if (fcs != len)
        return vk_error(-EBADMSG, "chunk %s: damaged (not a zstd frame of %zu bytes)", p, len);
    size_t n = ZSTD_decompressDCtx(r->zd, buf, len, frame, flen);
    if (ZSTD_isError(n))
        return vk_error(-EBADMSG, "chunk %s: damaged (zstd: %s)", p, ZSTD_getErrorName(n));
    if (n != len)
        return vk_error(-EBADMSG, "chunk %s: damaged (%zu bytes, expected %zu)", p, n, len);
    uint8_t h[32];
    if ((e = vk_bk_chunk_id(r, buf, len, h)) < 0)
        return e;
    if (memcmp(h, id, 32))
        return vk_error(-EBADMSG, "chunk %s: damaged (its %s does not match its name)", p,
                        r->cfg.encrypted ? "HMAC-SHA-256" : "SHA-256");
    return 0;
}

/* A snapshot id as save makes them: [0-9A-Za-z_-], not empty. */
static bool valid_id(const char *s, size_t len)
{
    if (!len || len > VK_BK_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void vk_bk_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

int vk_bk_snap_ids(struct vk_bk_repo *r, char ***ids, size_t *n)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/snapshots", r->path);
    DIR *d = opendir(p);
    if (!d)
        return vk_error(-errno, "%s: %s", p, strerror(errno));
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    int e = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        /* temp files start with '.', so a half-written snapshot is never seen */
        if (l <= 5 || strcmp(de->d_name + l - 5, ".json") || !valid_id(de->d_name, l - 5))
            continue;
        char **nv = vk_grow(v, &cap, cnt + 1, sizeof *v, 16);
        char *s = nv ? strndup(de->d_name, l - 5) : NULL;
        if (nv)
            v = nv;
        if (!s) {
            e = vk_error(-ENOMEM, "out of memory");
            break;
        }
        v[cnt++] = s;
    }
    closedir(d);
    if (e < 0) {
        vk_bk_ids_free(v, cnt);
        return e;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_str);
    *ids = v;
    *n = cnt;
    return 0;
}

/* The associated data of snapshot id's sealed file: a file renamed to
 * another id fails. */
static void snap_aad(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "vmkit-backup snapshot %s", id);
}

/* Load the snapshot file of id. */
static int load_id(struct vk_bk_repo *r, const char *id, struct vk_bk_snap *s)
{
    char p[PATH_MAX], *data, aad[VK_BK_ID_MAX + 32];
    size_t len;
    snprintf(p, sizeof p, "%s/snapshots/%s.json", r->path, id);
    int e = need_keys(r);
    if (e == 0)
        e = vk_read_small_file(p, VK_BK_INDEX_MAX + VK_BK_SEAL_OVERHEAD, &data, &len);
    if (e < 0)
        return e;
    char *text = data;
    if (r->cfg.encrypted) {
        snap_aad(id, aad, sizeof aad);
        if (vk_bk_unseal(r->keys, aad, strlen(aad), (uint8_t *)data, len) < 0) {
            free(data);
            return vk_error(-EBADMSG, "%s: damaged (it fails authentication)", p);
        }
        text += VK_BK_NONCE;
        len -= VK_BK_SEAL_OVERHEAD;
    }
    e = vk_bk_index_parse(text, len, p, s);
    free(data);
    if (e == 0 && strcmp(s->id, id))
        e = vk_error(-EINVAL, "%s: holds snapshot '%s', not '%s'", p, s->id, id);
    else if (e == 0 && s->chunk_size != r->chunk_size)
        e = vk_error(-EINVAL, "%s: chunk size %u, the repository's is %u", p, s->chunk_size,
                     r->chunk_size);
    if (e < 0)
        vk_bk_snap_free(s);
    return e;
}

int vk_bk_snap_load(struct vk_bk_repo *r, const char *spec, struct vk_bk_snap *s)
{
    char **ids;
    size_t n;
    int e = vk_bk_snap_ids(r, &ids, &n);
    if (e < 0)
        return e;
    e = -ENOENT;
    for (size_t i = 0; i < n && e == -ENOENT; i++)
        if (!strcmp(ids[i], spec))
            e = load_id(r, ids[i], s);
    if (e == -ENOENT && !strcmp(spec, "latest") && n)
        e = load_id(r, ids[n - 1], s);
    for (size_t i = n; i-- > 0 && e == -ENOENT;) {
        struct vk_bk_snap c;
        if (load_id(r, ids[i], &c) < 0)
            continue;           /* verify reports damaged ones */
        if (c.name && !strcmp(c.name, spec)) {
            *s = c;
            e = 0;
        } else {
            vk_bk_snap_free(&c);
        }
    }
    vk_bk_ids_free(ids, n);
    if (e == -ENOENT)
        return vk_error(-ENOENT, "%s: no snapshot '%s' (see 'vmkit backup list %s')", r->path,
                        spec, r->path);
    return e;
}

int vk_bk_snap_write(struct vk_bk_repo *r, const struct vk_bk_snap *s)
{
    char p[PATH_MAX], tmp[PATH_MAX], aad[VK_BK_ID_MAX + 32];
    int e = need_keys(r);
    /* every chunk it names durable first */
    if (e == 0)
        e = vk_bk_chunk_flush(r);
    if (e < 0)
        return e;
    char *text = vk_bk_index_dump(s);
    if (!text)
        return vk_error(-ENOMEM, "out of memory");
    size_t len = strlen(text);
    uint8_t *out = (uint8_t *)text;
    if (r->cfg.encrypted) {
        /* nonce || ciphertext of the JSON || tag */
        if (!(out = malloc(len + VK_BK_SEAL_OVERHEAD))) {
            free(text);
            return vk_error(-ENOMEM, "out of memory");
        }
        memcpy(out + VK_BK_NONCE, text, len);
        free(text);
        snap_aad(s->id, aad, sizeof aad);
        if ((e = vk_bk_seal(r->keys, aad, strlen(aad), out, len)) < 0) {
            free(out);
            return e;
        }
        len += VK_BK_SEAL_OVERHEAD;
    }
    snprintf(p, sizeof p, "%s/snapshots/%s.json", r->path, s->id);
    snprintf(tmp, sizeof tmp, "%s/snapshots/.%s.json.tmp-%ld", r->path, s->id, (long)getpid());
    e = write_new_file(tmp, p, out, len);
    free(out);
    return e;
}
