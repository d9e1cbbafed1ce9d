#include "util/file.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
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
