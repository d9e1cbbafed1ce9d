/* A QMP (QEMU Machine Protocol) client over a unix socket.
 *
 * QMP is line-based JSON: QEMU greets with {"QMP": {...}}, the client sends
 * {"execute": "qmp_capabilities"} and then commands; each reply is one
 * line {"return": ...} or {"error": {"class":..., "desc":...}}, and
 * asynchronous {"event": NAME, "data": {...}} lines may arrive at any time,
 * also between a command and its reply.  vk_qmp_execute() queues such
 * events so vk_qmp_event() still sees them in order.
 *
 * Everything QEMU sends is untrusted input: lines are bounded
 * (VK_QMP_MAX_LINE), the event queue is bounded (VK_QMP_MAX_QUEUE; older
 * events are dropped beyond it), and every field is type-checked.
 */
#ifndef VK_VM_QMP_H
#define VK_VM_QMP_H

#include <jansson.h>
#include <stddef.h>

#define VK_QMP_MAX_LINE  (1u << 20)
#define VK_QMP_MAX_QUEUE 256

enum vk_qmp_kind { VK_QMP_GREETING, VK_QMP_RETURN, VK_QMP_ERROR, VK_QMP_EVENT };

/* One parsed message.  root owns everything; the other pointers borrow
 * from it.  For RETURN, data is the return value; for EVENT, event is the
 * name and data the "data" object (NULL if absent); for ERROR, errclass
 * and errdesc are set (never NULL: "" when QEMU omitted them). */
struct vk_qmp_msg {
    enum vk_qmp_kind kind;
    json_t *root;
    json_t *data;
    const char *event;
    const char *errclass, *errdesc;
};

struct vk_qmp;

/* Parse one QMP line (without its newline) into *m.  Returns 0, or
 * -EPROTO with a message naming what was wrong ("qmp: not JSON at column
 * 3", "qmp: reply is neither return, error, event nor greeting").  On
 * failure *m holds nothing to free. */
int vk_qmp_parse(const char *line, size_t len, struct vk_qmp_msg *m);

/* Release m's JSON (safe on a zeroed or already freed message). */
void vk_qmp_msg_free(struct vk_qmp_msg *m);

/* Wrap an already connected fd (taken over: closed by vk_qmp_close; -1 for
 * a client fed only through vk_qmp_feed).  name is used in messages.
 * Returns NULL on allocation failure (fd is then closed). */
struct vk_qmp *vk_qmp_new(int fd, const char *name);

/* Connect to the QMP socket at path, read the greeting and negotiate
 * capabilities, within timeout_ms (< 0: wait forever).  Returns 0 and
 * *out, or a negative errno: -ENOENT/-ECONNREFUSED when nothing listens,
 * -ETIMEDOUT, -EPROTO on a bad greeting. */
int vk_qmp_connect(const char *path, int timeout_ms, struct vk_qmp **out);

/* Append raw bytes as if read from the socket.  Returns 0, -ENOMEM, or
 * -E2BIG once vk_qmp_next found a line longer than VK_QMP_MAX_LINE (the
 * client is then unusable). */
int vk_qmp_feed(struct vk_qmp *q, const void *buf, size_t len);

/* Take the next complete message out of the bytes buffered so far.
 * Returns 1 with *m filled, 0 when no complete line is buffered, or a
 * negative errno (-EPROTO for a malformed line, which is consumed). */
int vk_qmp_next(struct vk_qmp *q, struct vk_qmp_msg *m);

/* Run command cmd with args (a JSON object, reference stolen; NULL for
 * none) and wait up to timeout_ms for its reply.  *ret (may be NULL)
 * gets a new reference to the return value.  Events arriving meanwhile
 * are queued.  Returns 0, -EIO with "qmp CMD: DESC" for an error reply,
 * -ETIMEDOUT, -ECONNRESET when QEMU closed the socket. */
int vk_qmp_execute(struct vk_qmp *q, const char *cmd, json_t *args, json_t **ret,
                   int timeout_ms);

/* How long vmkit waits for a QMP command's reply: QEMU answers at once
 * unless it is stuck (a job's progress is polled, not waited for). */
#define VK_QMP_WAIT_MS 10000

/* The next event: queued ones first, then from the socket, waiting up to
 * timeout_ms (0: only what is already there).  Returns 1 with *m (an
 * EVENT), 0 when none arrived in time, -ECONNRESET on end of file, or
 * another negative errno.  Non-event lines received here (stray replies)
 * are skipped. */
int vk_qmp_event(struct vk_qmp *q, struct vk_qmp_msg *m, int timeout_ms);

/* The state of block job id (query-block-jobs): 1 ready, 0 running,
 * -ENOENT gone (finished, failed or cancelled), or QMP's error. */
int vk_qmp_block_job_state(struct vk_qmp *q, const char *id);

/* The socket, for poll(); -1 if none. */
int vk_qmp_fd(const struct vk_qmp *q);

/* Close the socket and free everything. NULL is fine. */
void vk_qmp_close(struct vk_qmp *q);

#endif
