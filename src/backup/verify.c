/* backup verify: every snapshot readable, every chunk it names present
 * and (--read-data) holding what its name says.  Each distinct chunk is
 * checked once; a bad one is reported with every snapshot it touches. */
#include "backup/backup.h"

#include "util/err.h"
#include "util/vec.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ref {
    uint8_t id[32];
    uint32_t len;
    size_t snap;            /* index into the ids */
};

static int cmp_ref(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    int c = memcmp(x->id, y->id, 32);
    return c ? c : (x->snap > y->snap) - (x->snap < y->snap);
}

/* Report chunk refs[a..b) is bad: what, then the snapshots it touches. */
static void report(vk_bk_bad_fn bad, void *ctx, const char *what, char **ids,
                   const struct ref *refs, size_t a, size_t b)
{
    size_t cap = strlen(what) + 64, len;
    for (size_t i = a; i < b; i++)
        cap += strlen(ids[refs[i].snap]) + 2;
    char *msg = malloc(cap);
    if (!msg) {
        bad(what, ctx);
        return;
    }
    len = (size_t)snprintf(msg, cap, "%s (snapshots:", what);
    for (size_t i = a; i < b; i++)
        if (i == a || refs[i].snap != refs[i - 1].snap)
            len += (size_t)snprintf(msg + len, cap - len, " %s", ids[refs[i].snap]);
    snprintf(msg + len, cap - len, ")");
    bad(msg, ctx);
    free(msg);
}

int vk_bk_verify(struct vk_bk_repo *r, bool read_data, vk_bk_bad_fn bad, void *ctx,
                 vk_bk_progress_fn progress, void *pctx, struct vk_bk_verify_stats *st)
{
    char **ids;
    size_t nids;
    memset(st, 0, sizeof *st);
    int e = vk_bk_snap_ids(r, &ids, &nids);
    if (e < 0)
        return e;
    struct ref *refs = NULL;
    size_t nrefs = 0, cap = 0;
    st->snapshots = nids;
    for (size_t i = 0; i < nids && e >= 0; i++) {
        struct vk_bk_snap s;
        if (vk_bk_snap_load(r, ids[i], &s) < 0) {
            bad(vk_errmsg(), ctx);
            vk_error_clear();
            st->bad_snapshots++;
            continue;
        }
        struct ref *nv = vk_grow(refs, &cap, nrefs + s.next, sizeof *refs, 256);
        if (!nv) {
            e = vk_error(-ENOMEM, "out of memory");
        } else {
            refs = nv;
            for (size_t k = 0; k < s.next; k++) {
                memcpy(refs[nrefs].id, s.ext[k].id, 32);
                refs[nrefs].len = s.ext[k].len;
                refs[nrefs++].snap = i;
            }
        }
        vk_bk_snap_free(&s);
    }
    uint8_t *buf = e >= 0 ? malloc(r->chunk_size) : NULL;
    if (e >= 0 && !buf)
        e = vk_error(-ENOMEM, "out of memory");
    if (e >= 0 && nrefs)
        qsort(refs, nrefs, sizeof *refs, cmp_ref);
    for (size_t a = 0, b; e >= 0 && a < nrefs; a = b) {
        for (b = a + 1; b < nrefs && !memcmp(refs[b].id, refs[a].id, 32); b++)
            ;
        if (progress)
            progress(a, nrefs, pctx);
        st->chunks++;
        int c;
        if (read_data) {
            c = vk_bk_chunk_get(r, refs[a].id, buf, refs[a].len);
        } else if ((c = vk_bk_chunk_exists(r, refs[a].id)) == 0) {
            char p[PATH_MAX];
            vk_bk_chunk_path(r, refs[a].id, p, sizeof p);
            c = vk_error(-ENOENT, "chunk %s: missing", p);
        }
        if (c == -ENOMEM)
            e = c;
        else if (c < 0) {
            st->bad_chunks++;
            report(bad, ctx, vk_errmsg(), ids, refs, a, b);
            vk_error_clear();
        }
    }
    if (e >= 0 && progress)
        progress(nrefs, nrefs, pctx);
    free(buf);
    free(refs);
    vk_bk_ids_free(ids, nids);
    if (e < 0)
        return e;
    return st->bad_chunks || st->bad_snapshots ? 1 : 0;
}
