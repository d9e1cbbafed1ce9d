/* Errors and warnings: the one contract of the whole library.
 *
 * Every library function that can fail returns 0 (or a count) on success
 * and a negative errno on failure, after recording a message that names the
 * object and what went wrong ("disk.qcow2: L1 table offset beyond end of
 * file").  The message lives in thread-local storage until the next error;
 * the CLI prints it as "vmkit: <message>".  The library never prints and
 * never exits: warnings go to a handler the application installs.
 */
#ifndef VK_UTIL_ERR_H
#define VK_UTIL_ERR_H

#include <stdarg.h>

#if defined(__GNUC__)
#define VK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VK_PRINTF(a, b)
#endif

/* Record a message for error code err (a negative errno) and return err,
 * so callers write:  return vk_error(-EINVAL, "%s: bad magic", name);
 * A message already recorded is replaced. */
int vk_error(int err, const char *fmt, ...) VK_PRINTF(2, 3);
int vk_verror(int err, const char *fmt, va_list ap);

/* Like vk_error, but the message is prefixed to the one already recorded
 * ("disk.qcow2:1: " + "bad superblock").  Used to add context on the way
 * up.  Returns err. */
int vk_error_prefix(int err, const char *fmt, ...) VK_PRINTF(2, 3);

/* The last message recorded in this thread.  If the failing code recorded
 * none, a generic strerror() text for the last code passed to vk_error or
 * vk_errmsg_for().  Never NULL. */
const char *vk_errmsg(void);

/* The message for err: the recorded one if it was recorded for err,
 * otherwise strerror(-err).  Lets callers cope with code paths (libc,
 * other libraries) that fail without recording anything. */
const char *vk_errmsg_for(int err);

/* Forget the recorded message. */
void vk_error_clear(void);

/* Warnings: non-fatal conditions the user should hear about (GPT primary
 * header damaged, falling back to the backup).  The default handler drops
 * them; the CLI installs one that prints "vmkit: warning: ...".
 * The handler is process-wide and NOT thread-safe to change: install it
 * once, before other threads use the library.  fn may then be called from
 * any thread that calls the library (with the ctx given here). */
typedef void (*vk_warn_fn)(const char *msg, void *ctx);
void vk_set_warn_handler(vk_warn_fn fn, void *ctx);
void vk_warn(const char *fmt, ...) VK_PRINTF(1, 2);

#endif
