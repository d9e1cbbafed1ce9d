/* Shared body of fuzz_mbr.c and fuzz_gpt.c: put the bytes in a
 * memory-backed file, open it as a raw blockdev and run the table readers,
 * the dump, verify and vk_part_locate over it.  Only crashes and sanitizer
 * reports matter; errors are the expected outcome for most inputs. */
#include "block/blockdev.h"
#include "part/part.h"
#include "part/target.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static struct vk_blockdev *fuzz_open(const uint8_t *data, size_t size)
{
    char path[64];
    struct vk_blockdev *bd = NULL;
    /* Whole sectors, at least two, at most 1 MiB. */
    size_t len = size < 1024 ? 1024 : size > (1u << 20) ? (1u << 20) : size / 512 * 512;
    int fd = memfd_create("fuzz-disk", 0);
    if (fd < 0)
        return NULL;
    if (ftruncate(fd, (off_t)len) < 0 || pwrite(fd, data, size < len ? size : len, 0) < 0) {
        close(fd);
        return NULL;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (vk_bd_open(path, "raw", VK_OPEN_NOLOCK, &bd) < 0)
        bd = NULL;
    close(fd);
    return bd;
}

static void fuzz_exercise(struct vk_blockdev *bd, struct vk_ptable *t)
{
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        vk_ptable_dump(t, "fuzz", null);
        fclose(null);
    }
    for (unsigned i = 0; i < t->n; i++)
        (void)vk_part_type_name(t, &t->p[i]);
    /* The allocator over whatever the table holds (in memory only). */
    struct vk_part_req req = { .type = "linux" };
    unsigned n;
    (void)vk_part_add(t, &req, "fuzz", &n);
    (void)vk_part_resize(t, 1, 0, "fuzz");
    (void)vk_part_del(t, 1, "fuzz");
    (void)vk_ptable_validate(t, "fuzz");
}

static void fuzz_generic(struct vk_blockdev *bd)
{
    struct vk_ptable t;
    uint64_t off, len;
    char *msgs = NULL;

    if (vk_ptable_read(bd, &t) == 0) {
        fuzz_exercise(bd, &t);
        vk_ptable_free(&t);
    }
    for (unsigned n = 1; n <= 8; n++)
        (void)vk_part_locate(bd, n, &off, &len);
    (void)vk_ptable_verify(bd, &msgs);
    free(msgs);
}
