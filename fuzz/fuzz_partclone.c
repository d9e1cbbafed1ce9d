/* libFuzzer entry point: a partclone image (format 0002) as backup import
 * reads it from a Clonezilla directory, for a partition of at most 64 MiB.
 * Every block handed on must lie inside the device the header names and
 * the partition, and come in ascending order. */
#include "backup/partclone.h"
#include "util/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PART_MAX (64u << 20)

struct mem {
    const uint8_t *p;
    size_t len, pos;
};

static long mem_in(void *ctx, void *buf, size_t len)
{
    struct mem *m = ctx;
    size_t n = m->len - m->pos < len ? m->len - m->pos : len;
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (long)n;
}

struct sink {
    uint64_t next;              /* the lowest offset the next block may have */
    uint32_t sum;
};

static int put(void *ctx, uint64_t off, const void *buf, size_t len)
{
    struct sink *s = ctx;
    if (off < s->next || off + len > PART_MAX || !len)
        abort();
    s->next = off + len;
    s->sum += ((const uint8_t *)buf)[0] + ((const uint8_t *)buf)[len - 1];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mem m = { data, size, 0 };
    struct sink s = { 0, 0 };
    struct vk_pc_info info;
    if (vk_pc_read(mem_in, &m, "fuzz", PART_MAX, &info, put, &s) == 0 &&
        s.next > info.device_size)
        abort();
    vk_error_clear();
    return 0;
}
