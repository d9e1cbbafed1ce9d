/* Growing strings (contract in util/strbuf.h). */
#include "util/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vk_strbuf_printf(struct vk_strbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int l = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (l < 0) {
        b->oom = 1;
        return;
    }
    if (b->n + (size_t)l + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap * 2 : 256) + (size_t)l;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)l;
}

void vk_strbuf_xl_quoted(struct vk_strbuf *b, const char *s)
{
    static const char from[] = "\"\\\a\b\f\n\r\t\v", to[] = "\"\\abfnrtv";
    vk_strbuf_printf(b, "\"");
    for (; *s; s++) {
        const char *k = strchr(from, *s);
        if (k)
            vk_strbuf_printf(b, "\\%c", to[k - from]);
        else
            vk_strbuf_printf(b, "%c", *s);
    }
    vk_strbuf_printf(b, "\"");
}
