/* A growing NUL-terminated string built with printf-style appends, for
 * writers of text formats (xl.cfg, the xl values libvirt XML becomes). */
#ifndef VK_UTIL_STRBUF_H
#define VK_UTIL_STRBUF_H

#include <stddef.h>

#include "util/err.h"

struct vk_strbuf {
    char *p;        /* NUL-terminated once anything was appended; free() it */
    size_t n, cap;  /* length, allocated size */
    int oom;        /* an append ran out of memory: p is incomplete */
};

/* Append the formatted text to b.  Out of memory sets b->oom and makes
 * every later append a no-op, so callers check once at the end. */
void vk_strbuf_printf(struct vk_strbuf *b, const char *fmt, ...) VK_PRINTF(2, 3);

/* Append s as an xl.cfg double-quoted string: the escapes libxlu decodes
 * (\" \\ \a \b \f \n \r \t \v); other bytes as they are (libxlu takes any
 * byte but newline literally). */
void vk_strbuf_xl_quoted(struct vk_strbuf *b, const char *s);

#endif
