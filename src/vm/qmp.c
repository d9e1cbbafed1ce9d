/* QMP client: line buffering, message classification, commands, events. */
#include "vm/qmp.h"
#include "util/err.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct vk_qmp {
    int fd;
    char *name;
    char *buf;              /* bytes received, not yet consumed */
    size_t len, cap;
    int broken;             /* a line overflowed: nothing more is parsed */
    struct vk_qmp_msg *queue;  /* events received while awaiting a reply */
    size_t qhead, qlen;     /* ring of VK_QMP_MAX_QUEUE */
};

void vk_qmp_msg_free(struct vk_qmp_msg *m)
{
    if (m->root)
        json_decref(m->root);
    memset(m, 0, sizeof *m);
}

/* Contract in qmp.h. */
int vk_qmp_parse(const char *line, size_t len, struct vk_qmp_msg *m)
{
    json_error_t je;
    memset(m, 0, sizeof *m);
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return vk_error(-EPROTO, "qmp: not JSON at column %d: %s", je.column, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return vk_error(-EPROTO, "qmp: message is not a JSON object");
    }
    m->root = root;
    json_t *v;
    if ((v = json_object_get(root, "event"))) {
        if (!json_is_string(v))
            goto bad;
        m->kind = VK_QMP_EVENT;
        m->event = json_string_value(v);
        m->data = json_object_get(root, "data");
        if (m->data && !json_is_object(m->data))
            goto bad;
    } else if ((v = json_object_get(root, "return"))) {
        m->kind = VK_QMP_RETURN;
        m->data = v;
    } else if ((v = json_object_get(root, "error"))) {
        if (!json_is_object(v))
            goto bad;
        m->kind = VK_QMP_ERROR;
        json_t *c = json_object_get(v, "class"), *d = json_object_get(v, "desc");
        m->errclass = json_is_string(c) ? json_string_value(c) : "";
        m->errdesc = json_is_string(d) ? json_string_value(d) : "";
        m->data = v;
    } else if ((v = json_object_get(root, "QMP"))) {
        if (!json_is_object(v))
            goto bad;
        m->kind = VK_QMP_GREETING;
        m->data = v;
    } else {
        goto bad;
    }
    return 0;
bad:
    vk_qmp_msg_free(m);
    return vk_error(-EPROTO, "qmp: reply is neither return, error, event nor greeting");
}

/* Contract in qmp.h. */
struct vk_qmp *vk_qmp_new(int fd, const char *name)
{
    struct vk_qmp *q = calloc(1, sizeof *q);
    if (q)
        q->name = strdup(name ? name : "qmp");
    if (q)
        q->queue = calloc(VK_QMP_MAX_QUEUE, sizeof *q->queue);
    if (!q || !q->name || !q->queue) {
        if (q) {
            free(q->name);
            free(q->queue);
        }
        free(q);
        if (fd >= 0)
            close(fd);
        vk_error(-ENOMEM, "out of memory");
        return NULL;
    }
    q->fd = fd;
    return q;
}

int vk_qmp_fd(const struct vk_qmp *q)
{
    return q->fd;
}

void vk_qmp_close(struct vk_qmp *q)
{
    if (!q)
        return;
    if (q->fd >= 0)
        close(q->fd);
    for (size_t i = 0; i < q->qlen; i++)
        vk_qmp_msg_free(&q->queue[(q->qhead + i) % VK_QMP_MAX_QUEUE]);
    free(q->queue);
    free(q->buf);
    free(q->name);
    free(q);
}

/* Contract in qmp.h. */
int vk_qmp_feed(struct vk_qmp *q, const void *data, size_t n)
{
    if (q->broken)
        return vk_error(-E2BIG, "%s: reply line longer than %u bytes", q->name, VK_QMP_MAX_LINE);
    if (q->len + n > q->cap) {
        size_t nc = q->cap ? q->cap : 4096;
        while (nc < q->len + n)
            nc *= 2;
        char *nb = realloc(q->buf, nc);
        if (!nb)
            return vk_error(-ENOMEM, "out of memory");
        q->buf = nb;
        q->cap = nc;
    }
    if (n)          /* q->buf is still NULL before the first bytes */
        memcpy(q->buf + q->len, data, n);
    q->len += n;
    return 0;
}

/* Contract in qmp.h. */
int vk_qmp_next(struct vk_qmp *q, struct vk_qmp_msg *m)
{
    memset(m, 0, sizeof *m);
    if (q->broken)
        return vk_error(-E2BIG, "%s: reply line longer than %u bytes", q->name, VK_QMP_MAX_LINE);
    for (;;) {
        char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
        if (!nl) {
            if (q->len > VK_QMP_MAX_LINE) {
                q->broken = 1;
                return vk_error(-E2BIG, "%s: reply line longer than %u bytes", q->name,
                                VK_QMP_MAX_LINE);
            }
            return 0;
        }
        size_t ll = (size_t)(nl - q->buf), take = ll + 1;
        while (ll && (q->buf[ll - 1] == '\r' || q->buf[ll - 1] == ' '))
            ll--;
        int r = 1;
        if (ll > VK_QMP_MAX_LINE)
            r = vk_error(-E2BIG, "%s: reply line longer than %u bytes", q->name, VK_QMP_MAX_LINE);
        else if (ll)
            r = vk_qmp_parse(q->buf, ll, m) < 0 ? -EPROTO : 1;
        memmove(q->buf, q->buf + take, q->len - take);
        q->len -= take;
        if (ll || r < 0)
            return r;
        /* an empty line: keep looking */
    }
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read more bytes from the socket, waiting until deadline (ms, monotonic;
 * < 0 forever).  Returns 1 when bytes were added, 0 on timeout,
 * -ECONNRESET at end of file, other negative errno on errors. */
static int fill(struct vk_qmp *q, long long deadline)
{
    if (q->fd < 0)
        return vk_error(-ECONNRESET, "%s: not connected", q->name);
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            long long left = deadline - now_ms();
            wait = left > 0 ? (int)(left > 1 << 30 ? 1 << 30 : left) : 0;
        }
        struct pollfd p = { .fd = q->fd, .events = POLLIN };
        int pr = poll(&p, 1, wait);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return vk_error(-errno, "%s: poll: %s", q->name, strerror(errno));
        if (pr == 0)
            return 0;
        char tmp[8192];
        ssize_t n = read(q->fd, tmp, sizeof tmp);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return vk_error(errno == ECONNRESET ? -ECONNRESET : -errno, "%s: read: %s",
                            q->name, strerror(errno));
        if (n == 0)
            return vk_error(-ECONNRESET, "%s: QEMU closed the connection", q->name);
        int r = vk_qmp_feed(q, tmp, (size_t)n);
        return r < 0 ? r : 1;
    }
}

/* The next message of any kind, waiting until deadline.  1, 0 (timeout)
 * or negative errno. */
static int read_msg(struct vk_qmp *q, struct vk_qmp_msg *m, long long deadline)
{
    for (;;) {
        int r = vk_qmp_next(q, m);
        if (r != 0)
            return r;
        if ((r = fill(q, deadline)) <= 0)
            return r;
    }
}

static void enqueue(struct vk_qmp *q, struct vk_qmp_msg *m)
{
    if (q->qlen == VK_QMP_MAX_QUEUE) {      /* drop the oldest */
        vk_qmp_msg_free(&q->queue[q->qhead]);
        q->qhead = (q->qhead + 1) % VK_QMP_MAX_QUEUE;
        q->qlen--;
    }
    q->queue[(q->qhead + q->qlen) % VK_QMP_MAX_QUEUE] = *m;
    q->qlen++;
    memset(m, 0, sizeof *m);
}

static long long deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Contract in qmp.h. */
int vk_qmp_execute(struct vk_qmp *q, const char *cmd, json_t *args, json_t **ret,
                   int timeout_ms)
{
    if (ret)
        *ret = NULL;
    json_t *req = json_pack("{s:s}", "execute", cmd);
    if (req && args && json_object_set_new(req, "arguments", args) < 0) {
        json_decref(req);
        req = NULL;
    } else if (!req && args) {
        json_decref(args);
    }
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!text)
        return vk_error(-ENOMEM, "out of memory");
    /* one send of the line and its newline: QEMU may act on the command
     * (and quit, for system_reset or a power-off) as soon as the JSON
     * object is complete, so a newline sent apart could meet a closed
     * socket after the command already worked */
    size_t tl = strlen(text), off = 0;
    char *line = malloc(tl + 2);
    if (!line) {
        free(text);
        return vk_error(-ENOMEM, "out of memory");
    }
    memcpy(line, text, tl);
    line[tl++] = '\n';
    free(text);
    text = line;
    int err = 0;
    if (q->fd < 0)
        err = vk_error(-ECONNRESET, "%s: not connected", q->name);
    while (!err && off < tl) {
        ssize_t w = send(q->fd, text + off, tl - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            err = vk_error(errno == EPIPE ? -ECONNRESET : -errno, "%s: %s: %s", q->name, cmd,
                           strerror(errno));
        else
            off += (size_t)w;
    }
    free(text);
    if (err)
        return err;
    long long deadline = deadline_of(timeout_ms);
    for (;;) {
        struct vk_qmp_msg m;
        int r = read_msg(q, &m, deadline);
        if (r == 0)
            return vk_error(-ETIMEDOUT, "%s: %s: no reply from QEMU", q->name, cmd);
        if (r == -EPROTO)
            continue;               /* a garbled line: skip it */
        if (r < 0)
            return r;
        switch (m.kind) {
        case VK_QMP_EVENT:
            enqueue(q, &m);
            continue;
        case VK_QMP_GREETING:
            vk_qmp_msg_free(&m);
            continue;
        case VK_QMP_ERROR:
            err = vk_error(-EIO, "qmp %s: %s", cmd, *m.errdesc ? m.errdesc : m.errclass);
            vk_qmp_msg_free(&m);
            return err;
        case VK_QMP_RETURN:
            if (ret)
                *ret = json_incref(m.data);
            vk_qmp_msg_free(&m);
            return 0;
        }
    }
}

/* Contract in qmp.h. */
int vk_qmp_event(struct vk_qmp *q, struct vk_qmp_msg *m, int timeout_ms)
{
    memset(m, 0, sizeof *m);
    if (q->qlen) {
        *m = q->queue[q->qhead];
        memset(&q->queue[q->qhead], 0, sizeof *m);
        q->qhead = (q->qhead + 1) % VK_QMP_MAX_QUEUE;
        q->qlen--;
        return 1;
    }
    long long deadline = deadline_of(timeout_ms);
    for (;;) {
        int r = read_msg(q, m, deadline);
        if (r == -EPROTO)
            continue;
        if (r <= 0)
            return r;
        if (m->kind == VK_QMP_EVENT)
            return 1;
        vk_qmp_msg_free(m);
    }
}

/* Contract in qmp.h. */
int vk_qmp_connect(const char *path, int timeout_ms, struct vk_qmp **out)
{
    *out = NULL;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path)
        return vk_error(-ENAMETOOLONG, "%s: socket path too long", path);
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return vk_error(-errno, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        return vk_error(-e, "%s: %s", path, strerror(e));
    }
    struct vk_qmp *q = vk_qmp_new(fd, path);
    if (!q)
        return -ENOMEM;
    long long deadline = deadline_of(timeout_ms);
    struct vk_qmp_msg m;
    int r = read_msg(q, &m, deadline);
    if (r == 0)
        r = vk_error(-ETIMEDOUT, "%s: no QMP greeting from QEMU", path);
    else if (r > 0 && m.kind != VK_QMP_GREETING)
        r = vk_error(-EPROTO, "%s: expected a QMP greeting", path);
    vk_qmp_msg_free(&m);
    if (r >= 0) {
        int left = timeout_ms < 0 ? -1 : (int)(deadline - now_ms());
        r = vk_qmp_execute(q, "qmp_capabilities", NULL, NULL, left < 0 && timeout_ms >= 0 ? 0 : left);
    }
    if (r < 0) {
        vk_qmp_close(q);
        return r;
    }
    *out = q;
    return 0;
}

/* Contract in qmp.h. */
int vk_qmp_block_job_state(struct vk_qmp *q, const char *id)
{
    json_t *ret = NULL, *b;
    size_t i;
    int err = vk_qmp_execute(q, "query-block-jobs", NULL, &ret, 10000);
    if (err)
        return err;
    err = -ENOENT;
    json_array_foreach(ret, i, b) {
        const char *dev = json_string_value(json_object_get(b, "device"));
        if (dev && !strcmp(dev, id)) {
            err = json_is_true(json_object_get(b, "ready")) ? 1 : 0;
            break;
        }
    }
    json_decref(ret);
    return err;
}
