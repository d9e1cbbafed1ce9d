/* Shared body of fuzz_mbr.c and fuzz_gpt.c: put the bytes in a
 * memory-backed file, open it as a raw blockdev and run the table readers,
 * the dump, verify and vk_part_locate over it.  Only crashes and sanitizer
 * reports matter; errors are the expected outcome for most inputs. */
#include "block/blockdev.h"
#include "fuzz_mem.h"
#include "part/part.h"
#include "part/target.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
