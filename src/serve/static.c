/* vmkit serve: the page's files, only plain files directly in the web dir
 * (the route allows no '/' or "..", and symlinks are not followed), and
 * noVNC's below its dir (each component opened without following a
 * symlink, so nothing outside it is reached). */
#include "serve/serve_int.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATIC_MAX (8u << 20)

/* Contract in serve_int.h. */
int vk_static_open(struct vk_server *srv)
{
    srv->webdir_fd = open(srv->o->webdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (srv->webdir_fd < 0)
        return vk_error(-errno, "%s: the web dir: %s", srv->o->webdir, strerror(errno));
    srv->novnc_fd = -1;
    if (srv->o->novncdir)   /* without it the rest still works */
        srv->novnc_fd = open(srv->o->novncdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return 0;
}

static const char *ctype_of(const char *file)
{
    static const char *const map[][2] = {
        { ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },   { ".json", "application/json" },
        { ".png", "image/png" },                 { ".svg", "image/svg+xml" },
        { ".ico", "image/x-icon" },              { ".txt", "text/plain; charset=utf-8" },
        { ".wasm", "application/wasm" },
    };
    const char *dot = strrchr(file, '.');
    for (size_t i = 0; dot && i < sizeof map / sizeof *map; i++)
        if (!strcmp(dot, map[i][0]))
            return map[i][1];
    return "application/octet-stream";
}

static int send_fd(struct lws *wsi, struct vk_pss *pss, int fd, const char *file)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_MAX) {
        if (fd >= 0)
            close(fd);
        return vk_http_error(wsi, pss, 404, "no such resource");
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *buf = malloc(len + 1);
    while (buf && got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf || got != len) {
        free(buf);
        return vk_http_error(wsi, pss, 500, "cannot read the file");
    }
    return vk_http_respond(wsi, pss, 200, ctype_of(file), buf, len);
}

/* Contract in serve_int.h. */
int vk_static_send(struct lws *wsi, struct vk_pss *pss, const char *file)
{
    int fd = openat(pss->srv->webdir_fd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    return send_fd(wsi, pss, fd, file);
}

/* Contract in serve_int.h. */
int vk_static_send_novnc(struct lws *wsi, struct vk_pss *pss, const char *file)
{
    if (pss->srv->novnc_fd < 0) {
        char m[4200];
        snprintf(m, sizeof m, "noVNC is not installed (no directory %s)",
                 pss->srv->o->novncdir ? pss->srv->o->novncdir : "given");
        return vk_http_error(wsi, pss, 404, m);
    }
    char path[128];
    snprintf(path, sizeof path, "%s", file);
    int dir = pss->srv->novnc_fd, fd = -1;
    for (char *p = path, *sl;; p = sl + 1) {
        if (!(sl = strchr(p, '/'))) {
            fd = openat(dir, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
            break;
        }
        *sl = 0;
        int sub = openat(dir, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir != pss->srv->novnc_fd)
            close(dir);
        if ((dir = sub) < 0)
            break;
    }
    if (dir >= 0 && dir != pss->srv->novnc_fd)
        close(dir);
    return send_fd(wsi, pss, fd, file);
}
