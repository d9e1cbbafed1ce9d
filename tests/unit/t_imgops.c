/* block/imgops.c on an in-memory device: copy (plain and compressed)
 * writes only non-zero data, on cluster boundaries when compressing;
 * compare finds the first differing byte; map merges runs. */
#include "block/imgops.h"

#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define CS 65536u

struct mem {
    unsigned char *data;
    unsigned char *written;     /* per cluster: 0 never, 1 plain, 2 compressed */
    int plain_writes, compressed_writes, misaligned;
};

static int m_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off)
{
    struct mem *m = bd->priv;
    memcpy(buf, m->data + off, len);
    return 0;
}

static int m_pwrite(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    struct mem *m = bd->priv;
    memcpy(m->data + off, buf, len);
    for (uint64_t c = off / CS; c <= (off + len - 1) / CS; c++)
        m->written[c] = 1;
    m->plain_writes++;
    return 0;
}

static int m_pwrite_compressed(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    struct mem *m = bd->priv;
    if (off % CS || (len != CS && off + len != bd->size))
        m->misaligned++;
    memcpy(m->data + off, buf, len);
    m->written[off / CS] = 2;
    m->compressed_writes++;
    return 0;
}

/* Never-written clusters read as zero and say so. */
static int m_status(struct vk_blockdev *bd, uint64_t off, uint64_t len, uint64_t *pnum, uint64_t *host)
{
    struct mem *m = bd->priv;
    int w = m->written[off / CS] != 0;
    uint64_t end = off + len, p = off;
    while (p < end && (m->written[p / CS] != 0) == w)
        p = (p / CS + 1) * CS;
    *pnum = (p < end ? p : end) - off;
    *host = off;
    return w ? VK_BS_DATA | VK_BS_ALLOCATED | VK_BS_OFFSET_VALID : VK_BS_ZERO;
}

static int m_close(struct vk_blockdev *bd)
{
    struct mem *m = bd->priv;
    free(m->data);
    free(m->written);
    vk_bd_free(bd);
    return 0;
}

static const struct vk_blockdev_ops mem_ops = {
    .pread = m_pread, .pwrite = m_pwrite, .pwrite_compressed = m_pwrite_compressed,
    .block_status = m_status, .close = m_close,
};

static struct vk_blockdev *mem_new(const char *name, uint64_t size)
{
    struct vk_blockdev *bd = vk_bd_alloc(&mem_ops, NULL, name, sizeof(struct mem));
    struct mem *m = bd->priv;
    m->data = calloc(1, size);
    m->written = calloc(1, size / CS + 1);
    bd->size = size;
    bd->cluster_size = CS;
    bd->flags = VK_OPEN_RDWR;
    return bd;
}

static int count_runs(const struct vk_map_run *run, void *ctx)
{
    int *n = ctx;
    (*n)++;
    return 0;
}

int main(void)
{
    const uint64_t size = 40 * CS + 1000;   /* a partial last cluster */
    struct vk_blockdev *src = mem_new("src", size);
    struct mem *sm = src->priv;
    unsigned char *d = malloc(size);
    srand(7);
    for (uint64_t i = 0; i < size; i++)
        d[i] = (unsigned char)rand();
    /* clusters 0-2 data, 3-9 never written, 10 written with zeroes,
     * 11 one non-zero byte in its middle, 12-38 never written, 39 and
     * the partial tail data. */
    m_pwrite(src, d, 3 * CS, 0);
    memset(d, 0, CS);
    m_pwrite(src, d, CS, 10 * CS);
    d[777] = 1;
    m_pwrite(src, d, CS, 11 * CS);
    m_pwrite(src, d + CS, CS + 1000, 39 * CS);
    sm->plain_writes = 0;

    struct vk_blockdev *plain = mem_new("plain", size), *comp = mem_new("comp", size);
    struct vk_copy_opts o = { 0 };
    uint64_t at = 0;
    int r;
    /* CHECK evaluates its condition twice: no side effects inside it. */
    r = vk_img_copy(src, plain, &o);
    CHECK(r == 0, "plain copy");
    r = vk_img_compare(src, plain, &at);
    CHECK(r == 0, "plain copy compares identical");
    struct mem *pm = plain->priv;
    CHECK(pm->written[10] == 0, "explicit zero cluster not written");
    CHECK(pm->written[5] == 0 && pm->written[20] == 0, "holes not written");
    CHECK(pm->written[11] == 1 && pm->written[0] == 1 && pm->written[40] == 1, "data written");

    o.compress = true;
    r = vk_img_copy(src, comp, &o);
    CHECK(r == 0, "compressed copy");
    struct mem *cm = comp->priv;
    r = vk_img_compare(src, comp, &at);
    CHECK(r == 0, "compressed copy compares identical");
    CHECK(cm->misaligned == 0, "compressed writes are whole aligned clusters");
    CHECK(cm->compressed_writes == 6, "one compressed write per data cluster (got %d)",
          cm->compressed_writes);
    CHECK(cm->plain_writes == 0, "no plain writes when compressing");

    /* compare: exact first differing byte, and the zero-tail rule. */
    unsigned char x = 0x5a;
    m_pwrite(plain, &x, 1, 20 * CS + 4321);
    r = vk_img_compare(src, plain, &at);
    CHECK(r == 1 && at == 20 * CS + 4321,
          "mismatch at the first differing byte (%llu)", (unsigned long long)at);
    struct vk_blockdev *longer = mem_new("longer", size + 3 * CS);
    vk_img_copy(src, longer, &(struct vk_copy_opts){ 0 });
    r = vk_img_compare(src, longer, &at);
    CHECK(r == 0, "longer with zero tail is identical");
    m_pwrite(longer, &x, 1, size + 5);
    r = vk_img_compare(longer, src, &at);
    CHECK(r == 1 && at == size + 5, "tail data is a mismatch");

    /* map: runs merge; four alternations of data and zero + tail. */
    int n = 0;
    r = vk_img_map(src, count_runs, &n);
    CHECK(r == 0, "map");
    CHECK(n == 5, "map merges into 5 runs (got %d)", n);

    unsigned char z[100] = { 0 };
    CHECK(vk_buf_is_zero(z, 100) && vk_buf_is_zero(z, 0) && vk_buf_is_zero(z, 3), "zero buffers");
    z[99] = 1;
    CHECK(!vk_buf_is_zero(z, 100), "last byte counts");
    z[99] = 0;
    z[15] = 1;
    CHECK(!vk_buf_is_zero(z, 100) && !vk_buf_is_zero(z, 16), "head bytes count");

    vk_bd_close(src);
    vk_bd_close(plain);
    vk_bd_close(comp);
    vk_bd_close(longer);
    free(d);
    return tap_done();
}
