/* Directories (contract in dirs.h). */
#include "util/dirs.h"

#include "util/err.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int vk_mkdirs(const char *path, mode_t mode)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s", path) >= sizeof p)
        return vk_error(-ENAMETOOLONG, "%s: path too long", path);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || !*s) {
            char saved = *s;
            *s = 0;
            if (mkdir(p, mode) < 0 && errno != EEXIST)
                return vk_error(-errno, "%s: %s", p, strerror(errno));
            *s = saved;
            if (!saved)
                break;
        }
    }
    struct stat st;
    if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
        return vk_error(-ENOTDIR, "%s: not a directory", p);
    return 0;
}
