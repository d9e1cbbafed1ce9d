/* backup save: a disk image into a repository as fixed, block-aligned
 * chunks of its used blocks (backup.h). */
#include "backup/backup.h"
#include "backup/usedmap.h"

#include "block/blockdev.h"
#include "util/err.h"
#include "util/vec.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Zero the bytes of buf (the disk's [a, a+len)) that m calls free, from
 * m->v[*fi] on (advanced past ranges that end before a: chunks come in
 * ascending order).  Returns the number of bytes zeroed. */
static uint64_t mask_free(const struct vk_bk_map *m, size_t *fi, uint8_t *buf, uint64_t a,
                          uint64_t len, bool apply)
{
    uint64_t b = a + len, zeroed = 0;
    while (*fi < m->n && m->v[*fi].off + m->v[*fi].len <= a)
        (*fi)++;
    for (size_t j = *fi; j < m->n && m->v[j].off < b; j++) {
        uint64_t s = m->v[j].off > a ? m->v[j].off : a;
        uint64_t e = m->v[j].off + m->v[j].len < b ? m->v[j].off + m->v[j].len : b;
        if (apply)
            memset(buf + (s - a), 0, e - s);
        zeroed += e - s;
    }
    return zeroed;
}

static bool all_zero(const uint8_t *p, size_t len)
{
    return !len || (!p[0] && !memcmp(p, p + 1, len - 1));
}

/* True when [off, off+len) of bd reads as zeroes for certain (a hole in
 * a sparse or qcow2 image): no need to read it. */
static int reads_zero(struct vk_blockdev *bd, uint64_t off, uint64_t len)
{
    while (len) {
        uint64_t pnum;
        int st = vk_bd_block_status(bd, off, len, &pnum, NULL);
        if (st < 0)
            return st;
        if (!(st & VK_BS_ZERO) || !pnum)
            return 0;
        off += pnum;
        len -= pnum;
    }
    return 1;
}

/* A new snapshot id: the UTC time to the microsecond, so ids sort in the
 * order saves were made (saves hold the writer lock, and two in one
 * second were ordered at random), then random hex against collisions. */
static void make_id(char id[VK_BK_ID_MAX + 1], char *iso, size_t isolen)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    /* For tests only (HACKING.md): the second the snapshot is made at,
     * so prune's periods can be tested without waiting for them. */
    const char *fake = getenv("VMKIT_BACKUP_NOW");
    if (fake && *fake) {
        char *end;
        long long v = strtoll(fake, &end, 10);
        if (!*end && v >= 0 && v < 253402300800LL)     /* before year 10000 */
            now.tv_sec = (time_t)v;
    }
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(iso, isolen, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char t[32];
    strftime(t, sizeof t, "%Y%m%dT%H%M%S", &tm);
    uint8_t rnd[16];
    vk_uuid_random(rnd);
    snprintf(id, VK_BK_ID_MAX + 1, "%s_%06ldZ-%02x%02x%02x%02x", t, now.tv_nsec / 1000, rnd[0],
             rnd[1], rnd[2], rnd[3]);
}

static int add_extent(struct vk_bk_snap *s, size_t *cap, uint64_t off, uint32_t len,
                      const uint8_t id[32])
{
    struct vk_bk_extent *nv = vk_grow(s->ext, cap, s->next + 1, sizeof *s->ext, 256);
    if (!nv)
        return vk_error(-ENOMEM, "out of memory");
    s->ext = nv;
    s->ext[s->next].off = off;
    s->ext[s->next].len = len;
    memcpy(s->ext[s->next].id, id, 32);
    s->next++;
    return 0;
}

/* The writer thread stores the chunks the reading thread hands it, one at
 * a time, so reading and naming a chunk overlaps compressing, writing
 * and syncing the one before (two buffers: the reader fills one while
 * the writer stores the other).  Its first error stops it; the reader
 * sees it at the next hand-over. */
struct writer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct vk_bk_repo *r;
    const uint8_t *buf;     /* the chunk handed over; NULL: the writer is idle */
    size_t len;
    uint8_t id[32];
    bool done;              /* no more chunks: the writer ends */
    int err;
    char msg[1024];         /* err's message (vk_error is per thread) */
    uint64_t new_chunks, new_bytes;
};

static void *writer_main(void *p)
{
    struct writer *w = p;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->buf && !w->done)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->buf)
            break;
        pthread_mutex_unlock(&w->mu);
        bool added = false;
        uint64_t stored = 0;
        int e = vk_bk_chunk_put(w->r, w->id, w->buf, w->len, &added, &stored);
        pthread_mutex_lock(&w->mu);
        if (e < 0) {
            w->err = e;
            snprintf(w->msg, sizeof w->msg, "%s", vk_errmsg());
        } else if (added) {
            w->new_chunks++;
            w->new_bytes += stored;
        }
        w->buf = NULL;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Wait until the writer is idle; then hand it buf, or with buf NULL (or
 * after its error) tell it to end.  Returns the writer's error,
 * re-raised in this thread, or 0. */
static int writer_give(struct writer *w, const uint8_t *buf, size_t len, const uint8_t id[32])
{
    pthread_mutex_lock(&w->mu);
    while (w->buf)
        pthread_cond_wait(&w->cv, &w->mu);
    int e = w->err;
    if (!e && buf) {
        w->buf = buf;
        w->len = len;
        memcpy(w->id, id, 32);
    } else {
        w->done = true;
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return e ? vk_error(e, "%s", w->msg) : 0;
}

int vk_bk_save_bd(struct vk_bk_repo *r, struct vk_blockdev *bd, const char *disk,
                  const char *format, const char *name, vk_bk_progress_fn progress, void *pctx,
                  struct vk_bk_snap *out)
{
    struct vk_bk_map m;
    struct vk_bk_snap s;
    memset(&s, 0, sizeof s);
    memset(&m, 0, sizeof m);
    memset(out, 0, sizeof *out);
    int e = 0;
    uint8_t *bufs = malloc(2 * (size_t)r->chunk_size), *buf = bufs;
    struct writer w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .r = r };
    pthread_t wt;
    bool writing = false;
    if (!bufs)
        return vk_error(-ENOMEM, "out of memory");
    if ((e = vk_bk_map_disk(bd, &m, s.table, &s.parts, &s.nparts)) < 0)
        goto out;
    char iso[32];
    make_id(s.id, iso, sizeof iso);
    const char *base = strrchr(disk, '/') ? strrchr(disk, '/') + 1 : disk;
    s.name = strdup(name ? name : base);
    s.time = strdup(iso);
    s.source = strdup(disk);
    s.source_format = strdup(format ? format : bd->format ? bd->format->name : "raw");
    s.size = bd->size;
    s.chunk_size = r->chunk_size;
    if (!s.name || !s.time || !s.source || !s.source_format) {
        e = vk_error(-ENOMEM, "out of memory");
        goto out;
    }
    if ((e = pthread_create(&wt, NULL, writer_main, &w)) != 0) {
        e = vk_error(-e, "cannot start a thread: %s", strerror(e));
        goto out;
    }
    writing = true;
    size_t fi = 0, cap = 0;
    for (uint64_t off = 0; off < bd->size; off += r->chunk_size) {
        uint64_t len = bd->size - off < r->chunk_size ? bd->size - off : r->chunk_size;
        if (progress)
            progress(off, bd->size, pctx);
        uint64_t free_bytes = mask_free(&m, &fi, NULL, off, len, false);
        s.kept += len - free_bytes;
        if (free_bytes == len)
            continue;                               /* all free: a hole */
        if ((e = reads_zero(bd, off, len)) != 0) {
            if (e < 0)
                goto out;
            continue;                               /* sparse: a hole */
        }
        if ((e = vk_bd_pread(bd, buf, len, off)) < 0)
            goto out;
        mask_free(&m, &fi, buf, off, len, true);
        if (all_zero(buf, len))
            continue;
        uint8_t id[32];
        if ((e = vk_bk_chunk_id(r, buf, len, id)) < 0 ||
            (e = writer_give(&w, buf, len, id)) < 0 ||
            (e = add_extent(&s, &cap, off, (uint32_t)len, id)) < 0)
            goto out;
        buf = buf == bufs ? bufs + r->chunk_size : bufs;   /* the writer has the other */
    }
    /* Every chunk stored (each fsync'd and its rename synced) before the
     * index that names them. */
    e = writer_give(&w, NULL, 0, NULL);
    pthread_join(wt, NULL);
    writing = false;
    if (e < 0)
        goto out;
    s.new_chunks = w.new_chunks;
    s.new_bytes = w.new_bytes;
    if (progress)
        progress(bd->size, bd->size, pctx);
    if ((e = vk_bk_snap_write(r, &s)) < 0)
        goto out;
    *out = s;
    memset(&s, 0, sizeof s);
out:
    if (writing) {              /* stopped early: the writer finishes its chunk */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", vk_errmsg());
        writer_give(&w, NULL, 0, NULL);
        pthread_join(wt, NULL);
        vk_error(e, "%s", msg);
    }
    vk_bk_snap_free(&s);
    vk_bk_map_free(&m);
    free(bufs);
    return e < 0 ? e : 0;
}

int vk_bk_save(struct vk_bk_repo *r, const char *disk, const char *name,
               vk_bk_progress_fn progress, void *pctx, struct vk_bk_snap *out)
{
    struct vk_blockdev *bd;
    memset(out, 0, sizeof *out);
    int e = vk_bd_open(disk, NULL, 0, &bd);
    if (e < 0)
        return e;
    e = vk_bk_save_bd(r, bd, disk, NULL, name, progress, pctx, out);
    vk_bd_close(bd);
    return e;
}
