#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_msg[1024];
static _Thread_local int err_code;

/* Process-wide, set once before threads start (contract in err.h). */
static vk_warn_fn warn_fn;
static void *warn_ctx;

int vk_verror(int err, const char *fmt, va_list ap)
{
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    err_code = err;
    return err;
}

int vk_error(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vk_verror(err, fmt, ap);
    va_end(ap);
    return err;
}

int vk_error_prefix(int err, const char *fmt, ...)
{
    char prefix[512], old[sizeof err_msg];
    va_list ap;

    snprintf(old, sizeof old, "%s", vk_errmsg_for(err));
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix);
    if (plen >= sizeof err_msg)
        plen = sizeof err_msg - 1;
    memcpy(err_msg, prefix, plen);
    size_t olen = strlen(old);
    if (olen > sizeof err_msg - 1 - plen)
        olen = sizeof err_msg - 1 - plen;
    memcpy(err_msg + plen, old, olen);
    err_msg[plen + olen] = 0;
    err_code = err;
    return err;
}

const char *vk_errmsg(void)
{
    if (err_msg[0])
        return err_msg;
    return err_code ? strerror(-err_code) : "unknown error";
}

const char *vk_errmsg_for(int err)
{
    if (err_msg[0] && err_code == err)
        return err_msg;
    return strerror(err < 0 ? -err : err);
}

void vk_error_clear(void)
{
    err_msg[0] = 0;
    err_code = 0;
}

void vk_set_warn_handler(vk_warn_fn fn, void *ctx)
{
    warn_fn = fn;
    warn_ctx = ctx;
}

void vk_warn(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (!warn_fn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn_fn(msg, warn_ctx);
}
