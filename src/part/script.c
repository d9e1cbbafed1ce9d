/* sfdisk's script format: `sfdisk --dump` writes it, `sfdisk DISK < FILE`
 * reads it.  Header lines "key: value", then one line per partition:
 *   disk.img1 : start=2048, size=204800, type=83, bootable
 * vk_ptable_dump writes what sfdisk 2.38 writes; vk_ptable_load reads the
 * named-field form (what --dump produces) and, for any field left out,
 * places the partition as `part add` would. Also: `part verify`. */
#include "part/part.h"

#include "util/err.h"
#include "util/str.h"
#include "util/size.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int vk_ptable_dump(const struct vk_ptable *t, const char *device, FILE *out)
{
    char g[37];

    fprintf(out, "label: %s\n", vk_label_ops(t->label)->name);
    if (t->label == VK_LABEL_GPT) {
        vk_guid_to_str(t->disk_guid, g);
        fprintf(out, "label-id: %s\n", g);
    } else {
        fprintf(out, "label-id: 0x%08x\n", t->disk_sig);
    }
    fprintf(out, "device: %s\nunit: sectors\n", device);
    if (t->label == VK_LABEL_GPT) {
        fprintf(out, "first-lba: %llu\nlast-lba: %llu\n", (unsigned long long)t->first_lba,
                (unsigned long long)t->last_lba);
        if (t->gpt_nentries != 128)
            fprintf(out, "table-length: %u\n", t->gpt_nentries);
    }
    fprintf(out, "sector-size: 512\n\n");
    for (unsigned i = 0; i < t->n; i++) {
        const struct vk_part *p = &t->p[i];
        fprintf(out, "%s%u : start=%12llu, size=%12llu, ", device, p->number,
                (unsigned long long)p->start, (unsigned long long)p->size);
        if (t->label == VK_LABEL_GPT) {
            vk_guid_to_str(p->type_guid, g);
            fprintf(out, "type=%s, ", g);
            vk_guid_to_str(p->uuid, g);
            fprintf(out, "uuid=%s", g);
            if (p->name[0]) {
                fputs(", name=\"", out);
                for (const char *c = p->name; *c; c++) {
                    /* sfdisk's escaping: \xNN for quotes, backslash, controls and
                     * every non-ASCII byte. */
                    if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                        fprintf(out, "\\x%02x", (unsigned char)*c);
                    else
                        fputc(*c, out);
                }
                fputc('"', out);
            }
            if (p->attrs) {
                char a[600];
                vk_gpt_attrs_str(p->attrs, a, sizeof a);
                fprintf(out, ", attrs=\"%s\"", a);
            }
        } else {
            fprintf(out, "type=%x", p->mbr_type);
            if (p->bootable)
                fputs(", bootable", out);
        }
        fputc('\n', out);
    }
    return ferror(out) ? vk_error(-EIO, "writing the script failed") : 0;
}

/* Next "key=value" or flag of a partition line; value unquoted in place. */
static char *next_field(char **pp, char **val)
{
    char *p = *pp;
    while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
    if (!*p)
        return NULL;
    char *key = p;
    while (*p && *p != '=' && *p != ',' && *p != ' ')
        p++;
    *val = NULL;
    while (*p == ' ')
        *p++ = 0;
    if (*p == '=') {
        *p++ = 0;
        while (*p == ' ')
            p++;
        char *v = p, *w = p;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1] == 'x' && isxdigit((unsigned char)p[2]) && isxdigit((unsigned char)p[3])) {
                    char h[3] = { p[2], p[3], 0 };
                    *w++ = (char)strtol(h, NULL, 16);
                    p += 4;
                } else if (*p == '\\' && p[1]) {
                    *w++ = p[1];
                    p += 2;
                } else {
                    *w++ = *p++;
                }
            }
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ',')
                *w++ = *p++;
            while (w > v && w[-1] == ' ')
                w--;
        }
        if (*p)
            p++;
        *w = 0;
        *val = v;
    } else if (*p) {
        *p++ = 0;
    }
    *pp = p;
    return key;
}

static int num(const char *s, uint64_t *v, int line)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (!*s || *end || errno)
        return vk_error(-EINVAL, "script line %d: bad number '%s'", line, s);
    *v = x;
    return 0;
}

/* sfdisk's unnamed form "start, size, type, bootable" (commas or blanks):
 * empty or '-' means default; sizes may carry a suffix ("+32M" = 32 MiB),
 * plain numbers are sectors; bootable is '*'. */
static int positional(char *f, struct vk_part_req *req, int line)
{
    char *fld[4] = { 0 };
    int n = 0;
    bool commas = strchr(f, ',') != NULL;
    while (n < 4) {
        while (!commas && (*f == ' ' || *f == '\t'))
            f++;
        fld[n++] = f;
        size_t l = strcspn(f, commas ? "," : " \t");
        if (!f[l])
            break;
        f[l] = 0;
        f += l + 1;
    }
    req->positional = true;
    for (int i = 0; i < n; i++) {
        char *v = vk_trim(fld[i]);
        if (!*v || !strcmp(v, "-") || (i == 1 && !strcmp(v, "+")))
            continue;
        if (i < 2) {
            uint64_t x;
            if (*v == '+')
                v++;
            if (strspn(v, "0123456789") == strlen(v)) {
                x = strtoull(v, NULL, 10);
            } else {
                int r = vk_parse_size(v, &x);
                if (r < 0)
                    return vk_error(r, "script line %d: bad %s '%s'", line, i ? "size" : "start", v);
                x = (x + VK_SECTOR - 1) / VK_SECTOR;
            }
            if (i == 0)
                req->start = x;
            else
                req->size = x;
        } else if (i == 2) {
            req->type = v;
        } else if (!strcmp(v, "*")) {
            req->bootable = true;
        } else {
            return vk_error(-EINVAL, "script line %d: bootable field must be '*' or '-', not '%s'", line, v);
        }
    }
    return 0;
}

int vk_ptable_load(struct vk_blockdev *bd, FILE *in, const char *name, struct vk_ptable *t)
{
    char buf[4096];
    int line = 0, r = 0;
    bool body = false;
    enum vk_label_type label = VK_LABEL_MBR;
    char id[64] = "";
    uint64_t first = 0, last = 0, tlen = 0;

    memset(t, 0, sizeof *t);
    while (fgets(buf, sizeof buf, in)) {
        line++;
        char *s = vk_trim(buf);
        if (!*s || *s == '#')
            continue;
        char *colon = strchr(s, ':'), *eq = strchr(s, '=');
        if (!body && colon && (!eq || colon < eq) && !strstr(s, " : ") && colon[1] == ' ') {
            *colon = 0;
            char *k = vk_trim(s), *v = vk_trim(colon + 1);
            if (!strcmp(k, "label")) {
                if (!strcmp(v, "dos") || !strcmp(v, "mbr"))
                    label = VK_LABEL_MBR;
                else if (!strcmp(v, "gpt"))
                    label = VK_LABEL_GPT;
                else
                    return vk_error(-EINVAL, "script line %d: unsupported label '%s'", line, v);
            } else if (!strcmp(k, "label-id")) {
                snprintf(id, sizeof id, "%s", v);
            } else if (!strcmp(k, "first-lba")) {
                if ((r = num(v, &first, line)) < 0) return r;
            } else if (!strcmp(k, "last-lba")) {
                if ((r = num(v, &last, line)) < 0) return r;
            } else if (!strcmp(k, "table-length")) {
                if ((r = num(v, &tlen, line)) < 0) return r;
                if (tlen < 1 || tlen > 32768)
                    return vk_error(-EINVAL, "script line %d: table-length %llu out of range", line,
                                    (unsigned long long)tlen);
            } else if (!strcmp(k, "unit")) {
                if (strcmp(v, "sectors"))
                    return vk_error(-EINVAL, "script line %d: unit must be sectors", line);
            } else if (!strcmp(k, "sector-size")) {
                if (strcmp(v, "512"))
                    return vk_error(-EINVAL, "script line %d: only 512-byte sectors are supported", line);
            }
            /* device:, grain: and others carry nothing we need. */
            continue;
        }
        if (!body) {
            body = true;
            if ((r = vk_ptable_init(bd, t, label, false)) < 0)
                return r;
            if (label == VK_LABEL_GPT) {
                if (tlen)
                    t->gpt_nentries = (uint32_t)tlen;
                if (first)
                    t->first_lba = first;
                if (last) {
                    if (last > t->last_lba)
                        return vk_error(-EINVAL, "script: last-lba %llu is beyond the disk (at most %llu)",
                                        (unsigned long long)last, (unsigned long long)t->last_lba);
                    t->last_lba = last;
                }
                if (*id && vk_guid_from_str(id, t->disk_guid) < 0)
                    return vk_error(-EINVAL, "script: bad label-id '%s'", id);
            } else if (*id) {
                uint64_t v;
                if ((r = num(id, &v, line)) < 0 || v > UINT32_MAX)
                    return vk_error(-EINVAL, "script: bad label-id '%s'", id);
                t->disk_sig = (uint32_t)v;
            }
        }
        /* "node : fields" or just "fields". */
        char *f = s;
        char *sep = strstr(s, " : ");
        unsigned number = 0;
        if (sep) {
            *sep = 0;
            char *e = sep;
            while (e > s && isdigit((unsigned char)e[-1]))
                e--;
            number = (unsigned)strtoul(e, NULL, 10);
            f = sep + 3;
        }
        struct vk_part_req req = { .exact = true, .number = number };
        uint8_t uuid[16];
        char *k, *v;
        if (!strchr(f, '=') && (r = positional(f, &req, line)) < 0)
            goto fail;
        while (!req.positional && (k = next_field(&f, &v))) {
            if (!strcmp(k, "start") && v) {
                if ((r = num(v, &req.start, line)) < 0) goto fail;
            } else if (!strcmp(k, "size") && v) {
                if ((r = num(v, &req.size, line)) < 0) goto fail;
            } else if ((!strcmp(k, "type") || !strcmp(k, "Id")) && v) {
                req.type = v;
            } else if (!strcmp(k, "bootable")) {
                req.bootable = true;
            } else if (!strcmp(k, "uuid") && v) {
                if (vk_guid_from_str(v, uuid) < 0) {
                    r = vk_error(-EINVAL, "script line %d: bad uuid '%s'", line, v);
                    goto fail;
                }
                req.uuid = uuid;
            } else if (!strcmp(k, "name") && v) {
                req.name = v;
            } else if (!strcmp(k, "attrs") && v) {
                if ((r = vk_gpt_attrs_parse(v, &req.attrs)) < 0) goto fail;
            } else {
                r = vk_error(-EINVAL, "script line %d: unknown field '%s'", line, k);
                goto fail;
            }
        }
        if (!req.start)
            req.exact = false;   /* placed by us: align it */
        /* As sfdisk: with an extended partition present, an unnumbered
         * partition is primary while a slot and space outside it remain,
         * logical otherwise (or when it starts inside the extended one). */
        struct vk_part *ext = vk_ptable_extended(t);
        if (ext && !number && !req.logical) {
            struct vk_part tp = { 0 };
            bool is_ext = req.type && vk_part_parse_type(t, req.type, &tp) == 0 && vk_mbr_is_extended(tp.mbr_type);
            if (!is_ext && req.start > ext->start && req.start < ext->start + ext->size)
                req.logical = true;
            else if (!is_ext && !req.start) {
                if (vk_part_add(t, &req, name, NULL) == 0)
                    continue;
                vk_error_clear();
                req.logical = true;
            }
        }
        if ((r = vk_part_add(t, &req, name, NULL)) < 0)
            goto fail;
    }
    if (!body && (r = vk_ptable_init(bd, t, label, false)) < 0)
        return r;
    if (!body && label == VK_LABEL_MBR && *id) {
        uint64_t v;
        if (num(id, &v, line) == 0 && v <= UINT32_MAX)
            t->disk_sig = (uint32_t)v;
    }
    vk_ptable_detect_legacy(t);
    return vk_ptable_validate(t, name);
fail:
    vk_ptable_free(t);
    return vk_error_prefix(r, "script line %d: ", line);
}

static void add_msg(char **msgs, size_t *len, const char *m)
{
    size_t l = strlen(m);
    char *n = realloc(*msgs, *len + l + 2);
    if (!n)
        return;
    memcpy(n + *len, m, l);
    n[*len + l] = '\n';
    n[*len + l + 1] = 0;
    *len += l + 1;
    *msgs = n;
}

int vk_ptable_verify(struct vk_blockdev *bd, char **msgs)
{
    struct vk_ptable t;
    size_t len = 0;
    int found = 0;

    *msgs = NULL;
    int r = vk_ptable_read(bd, &t);
    if (r < 0) {
        if (r == -ENOENT || r == -EIO || r == -ENOMEM)
            return r;
        add_msg(msgs, &len, vk_errmsg());
        return 1;
    }
    if (t.gpt_primary_bad || t.gpt_backup_bad) {
        add_msg(msgs, &len, t.gpt_problem);
        found++;
    }
    vk_ptable_free(&t);
    return found;
}
