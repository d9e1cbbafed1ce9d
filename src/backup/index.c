/* Snapshot index files (REPO/snapshots/<id>.json): parsing what is read
 * from disk, which may be damaged or hostile (bounded, every field
 * checked; fuzz/fuzz_backup_index.c), and writing them. */
#include "backup/backup.h"

#include "util/err.h"
#include "util/str.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR_MAX 4096            /* name, source, time */

void vk_bk_snap_free(struct vk_bk_snap *s)
{
    free(s->name);
    free(s->time);
    free(s->source);
    free(s->source_format);
    free(s->parts);
    free(s->ext);
    memset(s, 0, sizeof *s);
}

static int bad(const char *what, const char *field)
{
    return vk_error(-EINVAL, "%s: damaged snapshot index (%s)", what, field);
}

/* An unsigned integer member; jansson's are signed 64-bit. */
static bool get_u64(json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* A string member copied (at most STR_MAX bytes, no NUL inside). */
static bool get_str(json_t *o, const char *key, char **out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) > STR_MAX ||
        strlen(json_string_value(v)) != json_string_length(v))
        return false;
    return (*out = strdup(json_string_value(v))) != NULL;
}

static bool get_small(json_t *o, const char *key, char *out, size_t size)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) >= size ||
        strlen(json_string_value(v)) != json_string_length(v))
        return false;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static int parse_parts(json_t *a, const char *what, struct vk_bk_snap *s)
{
    if (!json_is_array(a))
        return bad(what, "partitions");
    size_t n = json_array_size(a);
    if (n > 4096)
        return bad(what, "too many partitions");
    if (n && !(s->parts = calloc(n, sizeof *s->parts)))
        return vk_error(-ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(a, i);
        struct vk_bk_part *p = &s->parts[i];
        uint64_t num;
        if (!json_is_object(o) || !get_u64(o, "number", &num) || num > 65535 ||
            !get_u64(o, "start", &p->start) || !get_u64(o, "size", &p->size) ||
            !get_u64(o, "kept", &p->kept) || !get_small(o, "fs", p->fs, sizeof p->fs) ||
            p->start > s->size || p->size > s->size - p->start || p->kept > p->size)
            return bad(what, "a partition");
        p->number = (unsigned)num;
        s->nparts++;
    }
    return 0;
}

static int parse_extents(json_t *a, const char *what, struct vk_bk_snap *s)
{
    if (!json_is_array(a))
        return bad(what, "extents");
    size_t n = json_array_size(a);
    uint64_t nchunks = (s->size + s->chunk_size - 1) / s->chunk_size;
    if (n > nchunks)
        return bad(what, "more extents than chunks in the disk");
    if (n && !(s->ext = calloc(n, sizeof *s->ext)))
        return vk_error(-ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(a, i);
        struct vk_bk_extent *x = &s->ext[i];
        uint64_t len;
        char msg[64];
        snprintf(msg, sizeof msg, "extent %zu", i);
        if (!json_is_object(o) || !get_u64(o, "offset", &x->off) || !get_u64(o, "length", &len) ||
            !vk_hex_decode(json_string_value(json_object_get(o, "chunk")), x->id, 32))
            return bad(what, msg);
        /* Fixed chunks: aligned, ascending, each exactly one chunk long
         * (the last one cut at the disk's end). */
        if (x->off % s->chunk_size || x->off >= s->size ||
            (i && x->off <= s->ext[i - 1].off))
            return bad(what, msg);
        uint64_t want = s->size - x->off < s->chunk_size ? s->size - x->off : s->chunk_size;
        if (len != want)
            return bad(what, msg);
        x->len = (uint32_t)len;
        s->next++;
    }
    return 0;
}

int vk_bk_index_parse(const char *buf, size_t len, const char *what, struct vk_bk_snap *s)
{
    memset(s, 0, sizeof *s);
    if (len > VK_BK_INDEX_MAX)
        return bad(what, "too large");
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return vk_error(-EINVAL, "%s: damaged snapshot index (line %d: %s)", what, je.line, je.text);
    int r = 0;
    uint64_t ver, cs;
    const char *fmt = json_string_value(json_object_get(j, "format"));
    json_t *stats = json_object_get(j, "stats");
    if (!json_is_object(j) || !fmt || strcmp(fmt, "vmkit-backup-snapshot"))
        r = bad(what, "not a vmkit backup snapshot");
    else if (!get_u64(j, "version", &ver) || ver != 1)
        r = vk_error(-ENOTSUP, "%s: snapshot format version not supported (this vmkit reads 1)", what);
    else if (!get_small(j, "id", s->id, sizeof s->id) || !s->id[0] || strchr(s->id, '/') ||
             s->id[0] == '.')
        r = bad(what, "id");
    else if (!get_str(j, "name", &s->name) || !get_str(j, "time", &s->time) ||
             !get_str(j, "source", &s->source) || !get_str(j, "source_format", &s->source_format) ||
             !get_small(j, "table", s->table, sizeof s->table))
        r = bad(what, "name, time, source or table");
    else if (!get_u64(j, "size", &s->size) || !s->size || s->size > (UINT64_C(1) << 62))
        r = bad(what, "size");
    else if (!get_u64(j, "chunk_size", &cs) || cs < VK_BK_CHUNK_MIN || cs > VK_BK_CHUNK_MAX ||
             (cs & (cs - 1)))
        r = bad(what, "chunk_size");
    else if (!get_u64(j, "kept", &s->kept) || s->kept > s->size)
        r = bad(what, "kept");
    else if (!json_is_object(stats) || !get_u64(stats, "new_chunks", &s->new_chunks) ||
             !get_u64(stats, "new_bytes", &s->new_bytes))
        r = bad(what, "stats");
    if (r == 0) {
        s->chunk_size = (uint32_t)cs;
        r = parse_parts(json_object_get(j, "partitions"), what, s);
    }
    if (r == 0)
        r = parse_extents(json_object_get(j, "extents"), what, s);
    json_decref(j);
    if (r < 0)
        vk_bk_snap_free(s);
    return r;
}

char *vk_bk_index_dump(const struct vk_bk_snap *s)
{
    json_t *parts = json_array(), *ext = json_array();
    for (size_t i = 0; i < s->nparts; i++) {
        const struct vk_bk_part *p = &s->parts[i];
        json_array_append_new(parts, json_pack("{sI sI sI ss sI}", "number", (json_int_t)p->number,
                                               "start", (json_int_t)p->start, "size",
                                               (json_int_t)p->size, "fs", p->fs, "kept",
                                               (json_int_t)p->kept));
    }
    for (size_t i = 0; i < s->next; i++) {
        char hex[65];
        vk_bk_hex(s->ext[i].id, hex);
        json_array_append_new(ext, json_pack("{sI sI ss}", "offset", (json_int_t)s->ext[i].off,
                                             "length", (json_int_t)s->ext[i].len, "chunk", hex));
    }
    json_t *j = json_pack("{ss sI ss ss ss ss ss ss sI sI sI s{sI sI} so so}",
                          "format", "vmkit-backup-snapshot", "version", (json_int_t)1,
                          "id", s->id, "name", s->name, "time", s->time, "source", s->source,
                          "source_format", s->source_format, "table", s->table,
                          "size", (json_int_t)s->size, "chunk_size", (json_int_t)s->chunk_size,
                          "kept", (json_int_t)s->kept,
                          "stats", "new_chunks", (json_int_t)s->new_chunks,
                          "new_bytes", (json_int_t)s->new_bytes,
                          "partitions", parts, "extents", ext);
    return vk_bk_json_text(j, 1);
}

char *vk_bk_json_text(json_t *j, int indent)
{
    char *text = j ? json_dumps(j, JSON_INDENT(indent) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!text)
        return NULL;
    /* end with a newline, as text files do */
    size_t l = strlen(text);
    char *t = realloc(text, l + 2);
    if (!t) {
        free(text);
        return NULL;
    }
    t[l] = '\n';
    t[l + 1] = 0;
    return t;
}
