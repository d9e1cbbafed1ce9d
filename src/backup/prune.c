/* backup prune and gc: forgetting snapshots (which ones: the retention
 * policy of retain.h), then deleting the chunks no snapshot names.  Both
 * run under the writer's lock, so no save is adding chunks or temporary
 * files meanwhile.  prune decides everything first, then only unlinks
 * snapshot files, oldest first (each unlink atomic, the directory
 * fsync'd): a crash midway leaves some of them gone, never one half-gone.
 * gc deletes a chunk only when every snapshot was read and none names it,
 * so a chunk still in use is never lost; a crash midway leaves chunks
 * that a later gc deletes. */
#include "backup/backup.h"
#include "backup/retain.h"

#include "util/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return vk_error(-e, "%s: %s", dir, strerror(e));
    }
    close(fd);
    return 0;
}

int vk_bk_prune(struct vk_bk_repo *r, const struct vk_bk_policy *p, bool dry_run,
                vk_bk_prune_fn report, void *ctx)
{
    char **ids, path[PATH_MAX], dir[PATH_MAX];
    size_t n;
    int e = vk_bk_snap_ids(r, &ids, &n);
    if (e < 0)
        return e;
    snprintf(dir, sizeof dir, "%s/snapshots", r->path);
    int64_t *t = calloc(n ? n : 1, sizeof *t);
    struct vk_bk_verdict *v = calloc(n ? n : 1, sizeof *v);
    if (!t || !v)
        e = vk_error(-ENOMEM, "out of memory");
    /* Every time is known before anything is removed: a snapshot whose
     * age is unknown could be the one a rule must keep. */
    for (size_t i = 0; e >= 0 && i < n; i++)
        if (vk_bk_id_time(ids[i], &t[i]) < 0)
            e = vk_error(-EINVAL, "%s/%s.json: the id does not start with the time it was made "
                         "(YYYYMMDDTHHMMSS): prune refused, nothing removed", dir, ids[i]);
    if (e >= 0)
        vk_bk_retain(t, n, p, v);
    /* Oldest first, each removal one unlink: a crash midway leaves whole
     * snapshots, and running prune again removes the rest and no more
     * (vk_bk_retain is stable under its own removals). */
    int removed = 0;
    for (size_t i = 0; e >= 0 && i < n; i++) {
        bool rm = v[i].rule < 0;
        if (rm && !dry_run) {
            if (snprintf(path, sizeof path, "%s/%s.json", dir, ids[i]) >= (int)sizeof path)
                e = vk_error(-ENAMETOOLONG, "%s: name too long", dir);
            else if (unlink(path) < 0)
                e = vk_error(-errno, "%s: %s", path, strerror(errno));
            if (e < 0)
                break;
        }
        removed += rm;
        if (report)
            report(ids[i], &v[i], ctx);
    }
    /* what was removed before a failure is made durable too */
    if (removed && !dry_run) {
        int es = sync_dir(dir);
        if (e >= 0)
            e = es;
    }
    free(t);
    free(v);
    vk_bk_ids_free(ids, n);
    return e < 0 ? e : removed;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Every chunk id the snapshots name, sorted, into *out (malloc'd). */
static int referenced(struct vk_bk_repo *r, uint8_t (**out)[32], size_t *nout)
{
    char **ids;
    size_t n, m = 0, cap = 0;
    uint8_t (*v)[32] = NULL;
    int e = vk_bk_snap_ids(r, &ids, &n);
    for (size_t i = 0; e >= 0 && i < n; i++) {
        struct vk_bk_snap s;
        if ((e = vk_bk_snap_load(r, ids[i], &s)) < 0) {
            e = vk_error_prefix(e, "gc refused (it cannot know what this snapshot uses): ");
            break;
        }
        if (m + s.next > cap) {
            size_t nc = (m + s.next) * 2;
            void *nv = realloc(v, nc * 32);
            if (!nv) {
                vk_bk_snap_free(&s);
                e = vk_error(-ENOMEM, "out of memory");
                break;
            }
            v = nv;
            cap = nc;
        }
        for (size_t k = 0; k < s.next; k++)
            memcpy(v[m++], s.ext[k].id, 32);
        vk_bk_snap_free(&s);
    }
    vk_bk_ids_free(ids, n);
    if (e < 0) {
        free(v);
        return e;
    }
    if (m)
        qsort(v, m, 32, cmp_id);
    *out = v;
    *nout = m;
    return 0;
}

static int unhex(const char *h, uint8_t id[32])
{
    for (int i = 0; i < 64; i++) {
        int c = h[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        id[i / 2] = (uint8_t)(i % 2 ? id[i / 2] | d : d << 4);
    }
    return h[64] ? -1 : 0;
}

/* Delete the unreferenced chunks and the temporary files ('.' names) in
 * directory dir; names that are neither are left alone. */
static int gc_dir(const char *dir, const uint8_t (*ref)[32], size_t nref, struct vk_bk_gc_stats *st)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : vk_error(-errno, "%s: %s", dir, strerror(errno));
    struct dirent *de;
    char p[PATH_MAX];
    int e = 0;
    bool any = false;
    while (e >= 0 && (de = readdir(d))) {
        uint8_t id[32];
        bool temp = de->d_name[0] == '.' && strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
        if (!temp && (unhex(de->d_name, id) < 0 || (nref && bsearch(id, ref, nref, 32, cmp_id))))
            continue;
        if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= (int)sizeof p) {
            e = vk_error(-ENAMETOOLONG, "%s: name too long", dir);
            break;
        }
        if (unlink(p) < 0) {
            e = vk_error(-errno, "%s: %s", p, strerror(errno));
            break;
        }
        any = true;
        if (temp)
            st->temp_files++;
        else
            st->chunks_removed++;
    }
    closedir(d);
    return e >= 0 && any ? sync_dir(dir) : e;
}

int vk_bk_gc(struct vk_bk_repo *r, struct vk_bk_gc_stats *st)
{
    uint8_t (*ref)[32] = NULL;
    size_t nref;
    memset(st, 0, sizeof *st);
    int e = referenced(r, &ref, &nref);
    if (e < 0)
        return e;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/snapshots", r->path);
    /* No chunk ids there: only the temporary files go. */
    e = gc_dir(dir, NULL, 0, st);
    st->chunks_removed = 0;
    for (int i = 0; e >= 0 && i < 256; i++) {
        if (snprintf(dir, sizeof dir, "%s/chunks/%02x", r->path, i) >= (int)sizeof dir)
            e = vk_error(-ENAMETOOLONG, "%s: name too long", r->path);
        else
            e = gc_dir(dir, (const uint8_t (*)[32])ref, nref, st);
    }
    free(ref);
    return e < 0 ? e : 0;
}
