/* Path normalization for paths inside images: see path.h. */
#include "fs/path.h"

#include "util/err.h"

#include <errno.h>
#include <string.h>

int vk_path_normalize(const char *path, char *out, size_t outlen)
{
    size_t o = 0;
    const char *p = path ? path : "";
    if (outlen < 2)
        return vk_error(-ENAMETOOLONG, "%s: path too long", p);
    out[o++] = '/';
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, "/");
        if (n == 1 && p[0] == '.') {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            /* Back to the previous '/', never above the root. */
            while (o > 1 && out[o - 1] != '/')
                o--;
            if (o > 1)
                o--;
        } else {
            if (n > VK_NAME_MAX)
                return vk_error(-ENAMETOOLONG, "%.*s...: name longer than %d bytes", 40, p,
                                VK_NAME_MAX);
            if (o + (o > 1) + n + 1 > outlen)
                return vk_error(-ENAMETOOLONG, "%s: path too long", path);
            if (o > 1)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
    }
    out[o] = 0;
    return (int)o;
}

int vk_path_split(const char *path, char *parent, size_t len, const char **name)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        if (len < 2)
            return -ENAMETOOLONG;
        strcpy(parent, "/");
        *name = path;
        return 0;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1;
    if (n + 1 > len)
        return vk_error(-ENAMETOOLONG, "%s: path too long", path);
    memcpy(parent, path, n);
    parent[n] = 0;
    *name = slash + 1;
    return 0;
}

int vk_path_name_safe(const char *name)
{
    return name[0] && strcmp(name, ".") && strcmp(name, "..") && !strchr(name, '/');
}

const char *vk_path_abbrev(const char *path, char *buf)
{
    size_t n = strlen(path);
    if (n < VK_ABBREV_LEN)
        return path;
    memcpy(buf, path, VK_ABBREV_KEEP);
    memcpy(buf + VK_ABBREV_KEEP, "...", 3);
    memcpy(buf + VK_ABBREV_KEEP + 3, path + n - VK_ABBREV_KEEP, VK_ABBREV_KEEP + 1);
    return buf;
}
