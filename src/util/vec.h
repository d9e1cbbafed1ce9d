/* Growing arrays.
 *
 * vk_grow(arr, &cap, need, elem, first) returns arr reallocated so that it
 * holds at least need elements of elem bytes (capacity doubling, starting
 * at first), updating *cap; or NULL when memory ran out, in which case arr
 * and *cap are untouched (the caller still owns arr).  Typical use:
 *
 *     void *nv = vk_grow(l->v, &l->cap, l->n + 1, sizeof *l->v, 32);
 *     if (!nv)
 *         return vk_error(-ENOMEM, "out of memory");
 *     l->v = nv;
 */
#ifndef VK_UTIL_VEC_H
#define VK_UTIL_VEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline void *vk_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return arr;
    size_t nc = *cap ? *cap : first;
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return NULL;
        nc *= 2;
    }
    if (nc > SIZE_MAX / elem)
        return NULL;
    void *nv = realloc(arr, nc * elem);
    if (nv)
        *cap = nc;
    return nv;
}

#endif
