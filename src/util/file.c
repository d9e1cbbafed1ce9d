#include "util/file.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vk_read_small_file(const char *path, size_t max, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return vk_error(-e, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        close(fd);
        return vk_error(-EINVAL, "%s: not a regular file of at most %zu bytes", path, max);
    }
    char *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    int e = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            e = n < 0 ? errno : 0;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (!b)
        return vk_error(-ENOMEM, "out of memory");
    if (got != (size_t)st.st_size) {
        free(b);
        return vk_error(e ? -e : -EIO, "%s: %s", path, e ? strerror(e) : "short read");
    }
    b[got] = '\0';
    *data = b;
    *len = got;
    return 0;
}

/* Contract in file.h. */
int vk_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode,
                         int replace)
{
    char tmp[4200], dir[4200];
    const char *slash = strrchr(path, '/');
    int n = slash ? (int)(slash - path) : 1;
    if (snprintf(dir, sizeof dir, "%.*s", n ? n : 1, slash ? path : ".") >= (int)sizeof dir ||
        snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return vk_error(-ENAMETOOLONG, "%s: path too long", path);
    int fd = mkostemp(tmp, O_CLOEXEC), e = 0;   /* mkostemp creates 0600 */
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    const char *p = data;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            e = errno;
            break;
        }
        off += (size_t)w;
    }
    if (!e && (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0))
        e = errno;
    if (close(fd) < 0 && !e)
        e = errno;
    if (!e && (replace ? rename(tmp, path) : link(tmp, path)) < 0)
        e = errno;
    if (e || !replace)
        unlink(tmp);
    if (e == EEXIST)
        return vk_error(-EEXIST, "%s: already exists", path);
    if (e)
        return vk_error(-e, "%s: %s", path, strerror(e));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {   /* the rename itself durable; failure here loses nothing */
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int vk_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = 0;
    if (fd < 0 || (fsync(fd) < 0 && errno != EINVAL))
        r = vk_error(-errno, "%s: %s", dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    return r;
}

int vk_fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return vk_error(-ENOMEM, "out of memory");
    int r = vk_fsync_dir(dir);
    free(dir);
    return r;
}
