#include "part/target.h"

#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Interpret rest (what follows "FILE:") as "N", "N:PATH" or "PATH". */
static int parse_rest(const char *spec, const char *rest, bool allow_path, struct vk_target *t)
{
    const char *p = rest;
    unsigned long n = 0;

    if (isdigit((unsigned char)*p)) {
        while (isdigit((unsigned char)*p)) {
            n = n * 10 + (unsigned long)(*p++ - '0');
            if (n > 4096)
                return vk_error(-EINVAL, "%s: partition number out of range", spec);
        }
        if (*p && *p != ':')
            goto as_path;
        if (n == 0)
            return vk_error(-EINVAL, "%s: partitions are numbered from 1", spec);
        t->part = (unsigned)n;
        if (!*p)
            return 0;
        rest = p + 1;
    }
as_path:
    if (!allow_path)
        return vk_error(-EINVAL, "%s: expected FILE or FILE:PARTITION", spec);
    if (!*rest)
        rest = "/";
    t->path = strdup(rest);
    return t->path ? 0 : vk_error(-ENOMEM, "out of memory");
}

int vk_target_parse(const char *spec, bool allow_path, struct vk_target *t)
{
    struct stat st;
    size_t len = strlen(spec);

    memset(t, 0, sizeof *t);
    /* Longest existing prefix wins: the whole spec, then shorter ones
     * ending before each ':' from the right. */
    for (size_t end = len; ; ) {
        char *file = strndup(spec, end);
        if (!file)
            return vk_error(-ENOMEM, "out of memory");
        if (end > 0 && stat(file, &st) == 0 && !S_ISDIR(st.st_mode)) {
            t->file = file;
            if (end == len)
                return 0;
            int r = parse_rest(spec, spec + end + 1, allow_path, t);
            if (r < 0)
                vk_target_free(t);
            return r;
        }
        free(file);
        while (end > 0 && spec[--end] != ':')
            ;
        if (end == 0)
            break;
    }
    /* Name the file part in the message, not the whole spec. */
    const char *colon = strchr(spec, ':');
    int flen = colon ? (int)(colon - spec) : (int)len;
    if (flen > 0 && stat(spec, &st) == 0 && S_ISDIR(st.st_mode))
        return vk_error(-EISDIR, "%s: is a directory, not a disk image", spec);
    return vk_error(-ENOENT, "%.*s: No such file", flen, spec);
}

void vk_target_free(struct vk_target *t)
{
    free(t->file);
    free(t->path);
    memset(t, 0, sizeof *t);
}

int vk_target_open(const struct vk_target *t, const char *fmt, int flags,
                   struct vk_blockdev **out)
{
    struct vk_blockdev *disk;
    uint64_t off, len;
    char name[4096];
    int r;

    r = vk_bd_open(t->file, fmt, flags, &disk);
    if (r < 0)
        return r;
    if (!t->part) {
        *out = disk;
        return 0;
    }
    snprintf(name, sizeof name, "%s:%u", t->file, t->part);
    if ((r = vk_part_locate(disk, t->part, &off, &len)) < 0 ||
        (r = vk_slice_open(disk, off, len, name, true, out)) < 0) {
        vk_bd_close(disk);
        return r;
    }
    return 0;
}

int vk_open_disk_spec(const char *spec, const char *fmt, int flags, struct vk_blockdev **out)
{
    struct vk_target t;
    int r = vk_target_parse(spec, false, &t);
    if (r < 0)
        return r;
    r = vk_target_open(&t, fmt, flags, out);
    vk_target_free(&t);
    return r;
}
