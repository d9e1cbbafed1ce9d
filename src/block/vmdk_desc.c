/* The VMDK text descriptor: parsing what VMware and qemu-img write, and
 * writing what qemu-img writes.
 *
 *   # Disk DescriptorFile
 *   version=1
 *   CID=fffffffe
 *   parentCID=ffffffff
 *   createType="twoGbMaxExtentFlat"
 *   RW 4194304 FLAT "disk-f001.vmdk" 0
 *   ddb.adapterType = "ide"
 *
 * Extent files are opened relative to the descriptor's directory, and only
 * there: a name with a '/' (absolute, "..", a subdirectory) is refused, so
 * a descriptor from elsewhere cannot make vmkit read or write other files. */
#include "block/vmdk_int.h"

#include "util/err.h"
#include "util/vec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vmdk_desc_free(struct vmdk_desc *d)
{
    for (size_t i = 0; i < d->n_ext; i++)
        free(d->ext[i].file);
    free(d->ext);
    free(d->create_type);
    memset(d, 0, sizeof *d);
}

/* The value of a `key = "value"` or `key=value` line, quotes removed, or
 * NULL when line is not about key. */
static const char *value_of(char *line, const char *key)
{
    size_t k = strlen(key);
    if (strncmp(line, key, k))
        return NULL;
    char *p = line + k;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '=')
        return NULL;
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        p[--n] = 0;
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
        p[n - 1] = 0;
        p++;
    }
    return p;
}

static int parse_hex32(const char *name, const char *key, const char *v, uint32_t *out)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 16);
    if (end == v || *end || x > 0xffffffffULL)
        return vk_error(-EINVAL, "%s: descriptor: %s=%s is not a 32-bit hex number", name, key, v);
    *out = (uint32_t)x;
    return 0;
}

static bool is_access(const char *w)
{
    return !strcmp(w, "RW") || !strcmp(w, "RDONLY") || !strcmp(w, "NOACCESS");
}

/* "RW 4194304 FLAT "file.vmdk" 0": one extent line into e. */
static int parse_extent(const char *name, char *line, unsigned lineno, struct vmdk_desc_extent *e)
{
    char access[12], type[12];
    unsigned long long sectors, offset = 0;
    int used = 0;

    memset(e, 0, sizeof *e);
    if (sscanf(line, "%11s %llu %11s %n", access, &sectors, type, &used) != 3 || !used)
        return vk_error(-EINVAL, "%s: descriptor line %u: malformed extent line '%s'", name, lineno, line);
    e->rw = !strcmp(access, "RW");
    e->sectors = sectors;
    snprintf(e->type, sizeof e->type, "%s", type);
    char *p = line + used;
    if (!strcmp(type, "ZERO")) {
        if (*p)
            return vk_error(-EINVAL, "%s: descriptor line %u: a ZERO extent names no file", name, lineno);
    } else {
        char *q;
        if (*p != '"' || !(q = strchr(p + 1, '"')) || q == p + 1)
            return vk_error(-EINVAL, "%s: descriptor line %u: extent file name must be quoted: '%s'", name, lineno, line);
        *q = 0;
        const char *file = p + 1;
        if (strchr(file, '/') || strchr(file, '\\') || !strcmp(file, ".") || !strcmp(file, ".."))
            return vk_error(-EPERM, "%s: descriptor line %u: extent file '%s' is outside the descriptor's directory (refused)",
                            name, lineno, file);
        if (!(e->file = strdup(file)))
            return vk_error(-ENOMEM, "out of memory");
        p = q + 1;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p) {
            char *end;
            offset = strtoull(p, &end, 10);
            if (end == p || *end)
                return vk_error(-EINVAL, "%s: descriptor line %u: bad extent offset '%s'", name, lineno, p);
            if (strcmp(type, "FLAT"))
                return vk_error(-EINVAL, "%s: descriptor line %u: only FLAT extents take an offset", name, lineno);
        } else if (!strcmp(type, "FLAT")) {
            return vk_error(-EINVAL, "%s: descriptor line %u: FLAT extent without an offset", name, lineno);
        }
    }
    if (!sectors || sectors > (1ULL << 40))
        return vk_error(-EINVAL, "%s: descriptor line %u: extent size %llu sectors out of range", name, lineno, sectors);
    if (offset > (1ULL << 40))
        return vk_error(-EINVAL, "%s: descriptor line %u: extent offset %llu out of range", name, lineno, offset);
    e->offset = offset;
    return 0;
}

int vmdk_desc_parse(const char *name, const char *text, size_t len, struct vmdk_desc *d)
{
    size_t cap = 0;
    unsigned lineno = 0;
    bool have_version = false;
    int r = 0;

    memset(d, 0, sizeof *d);
    d->parent_cid = 0xffffffffu;
    if (len > VMDK_MAX_DESC)
        return vk_error(-EINVAL, "%s: descriptor larger than %u bytes", name, VMDK_MAX_DESC);
    char *buf = malloc(len + 1);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    memcpy(buf, text, len);
    buf[len] = 0;
    len = strlen(buf);      /* an embedded descriptor ends at its padding */
    for (char *line = buf, *next; line && *line && r == 0; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            line[--n] = 0;
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line || *line == '#')
            continue;
        const char *v;
        char word[12];
        if ((v = value_of(line, "version"))) {
            if (strcmp(v, "1") && strcmp(v, "2") && strcmp(v, "3"))
                r = vk_error(-ENOTSUP, "%s: descriptor version %s is not supported", name, v);
            have_version = true;
        } else if ((v = value_of(line, "CID"))) {
            r = parse_hex32(name, "CID", v, &d->cid);
        } else if ((v = value_of(line, "parentCID"))) {
            r = parse_hex32(name, "parentCID", v, &d->parent_cid);
        } else if ((v = value_of(line, "createType"))) {
            free(d->create_type);
            if (!(d->create_type = strdup(v)))
                r = vk_error(-ENOMEM, "out of memory");
        } else if ((v = value_of(line, "parentFileNameHint"))) {
            d->has_parent = true;
        } else if (sscanf(line, "%11s", word) == 1 && is_access(word)) {
            if (d->n_ext >= VMDK_MAX_EXTENTS) {
                r = vk_error(-EINVAL, "%s: descriptor names more than %u extents", name, VMDK_MAX_EXTENTS);
                break;
            }
            void *nv = vk_grow(d->ext, &cap, d->n_ext + 1, sizeof *d->ext, 4);
            if (!nv) {
                r = vk_error(-ENOMEM, "out of memory");
                break;
            }
            d->ext = nv;
            r = parse_extent(name, line, lineno, &d->ext[d->n_ext]);
            d->n_ext++;     /* counted even on failure: its file is freed */
        }
        /* anything else (ddb.*, encoding, unknown keys) is kept by no one */
    }
    free(buf);
    if (r < 0)
        return r;
    if (!have_version)
        return vk_error(-EINVAL, "%s: not a VMDK descriptor (no version= line)", name);
    if (!d->create_type)
        return vk_error(-EINVAL, "%s: descriptor has no createType", name);
    return 0;
}

char *vmdk_desc_make(uint32_t cid, const char *create_type, const char *extents,
                     uint64_t size, const struct vmdk_create *o)
{
    const char *adapter = o->adapter_type ? o->adapter_type : "ide";
    unsigned heads = strcmp(adapter, "ide") ? 255 : 16;   /* VMware's rule, as qemu */
    char *s = NULL;
    if (asprintf(&s,
                 "# Disk DescriptorFile\n"
                 "version=1\n"
                 "CID=%" PRIx32 "\n"
                 "parentCID=ffffffff\n"
                 "createType=\"%s\"\n"
                 "\n"
                 "# Extent description\n"
                 "%s"
                 "\n"
                 "# The Disk Data Base\n"
                 "#DDB\n"
                 "\n"
                 "ddb.virtualHWVersion = \"%s\"\n"
                 "ddb.geometry.cylinders = \"%" PRIu64 "\"\n"
                 "ddb.geometry.heads = \"%u\"\n"
                 "ddb.geometry.sectors = \"63\"\n"
                 "ddb.adapterType = \"%s\"\n"
                 "ddb.toolsVersion = \"2147483647\"\n",
                 cid, create_type, extents, o->hwversion ? o->hwversion : "4",
                 size / ((uint64_t)63 * heads * VMDK_SECTOR), heads, adapter) < 0)
        return NULL;
    return s;
}

/* The unsigned value of `key = "N"` in text (0 when absent or bad). */
static uint64_t ddb_number(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            next++;
        const char *p = line + strspn(line, " \t");
        if (strncmp(p, key, k))
            continue;
        p += k;
        p += strspn(p, " \t");
        if (*p != '=')
            continue;
        p++;
        p += strspn(p, " \t\"");
        return strtoull(p, NULL, 10);
    }
    return 0;
}

char *vmdk_desc_regrow(const char *text, size_t len, uint64_t last_sectors, const char *extra,
                       uint64_t size)
{
    char *in = strndup(text, len), *out = NULL;
    size_t out_len = 0, n_ext = 0, seen = 0;
    if (!in)
        return NULL;
    uint64_t heads = ddb_number(in, "ddb.geometry.heads"), secs = ddb_number(in, "ddb.geometry.sectors");
    for (int pass = 0; pass < 2; pass++) {
        FILE *f = pass ? open_memstream(&out, &out_len) : NULL;
        if (pass && !f)
            break;
        for (char *line = in; *line;) {
            char *eol = strchr(line, '\n');
            size_t n = eol ? (size_t)(eol - line) + 1 : strlen(line);
            const char *p = line + strspn(line, " \t");
            char word[12];
            bool ext = sscanf(p, "%11s", word) == 1 && is_access(word) &&
                       (p[strlen(word)] == ' ' || p[strlen(word)] == '\t');
            if (!pass) {
                n_ext += ext;
            } else if (ext && ++seen == n_ext) {
                const char *num = p + strlen(word);
                num += strspn(num, " \t");
                const char *rest = num + strspn(num, "0123456789");
                fprintf(f, "%.*s%" PRIu64 "%.*s", (int)(num - line), line, last_sectors,
                        (int)(line + n - rest), rest);
                if (!eol)
                    fputc('\n', f);
                fputs(extra, f);
            } else if (heads && secs && !strncmp(p, "ddb.geometry.cylinders", 22)) {
                const char *nl = n >= 2 && line[n - 2] == '\r' ? "\r\n" : eol ? "\n" : "";
                fprintf(f, "%.*sddb.geometry.cylinders = \"%" PRIu64 "\"%s", (int)(p - line), line,
                        size / (heads * secs * VMDK_SECTOR), nl);
            } else {
                fwrite(line, 1, n, f);
            }
            line += n;
        }
        if (pass && fclose(f) != 0) {
            free(out);
            out = NULL;
        }
        if (!n_ext)
            break;
    }
    free(in);
    return out;
}
