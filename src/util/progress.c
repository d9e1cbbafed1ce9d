#include "util/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void vk_progress_init(struct vk_progress *p, int fd, bool force)
{
    p->fd = fd;
    p->enabled = force || isatty(fd);
    p->shown = -1;
}

static void draw(struct vk_progress *p, int permille)
{
    char line[96];
    int bar = permille * 40 / 1000;
    int n = snprintf(line, sizeof line, "\r    (%d.%d/100%%) [", permille / 10, permille % 10);
    for (int i = 0; i < 40; i++)
        line[n++] = i < bar ? '#' : ' ';
    line[n++] = ']';
    /* Best effort: a progress bar that cannot be drawn is no error. */
    if (write(p->fd, line, (size_t)n) < 0)
        p->enabled = false;
    p->shown = permille;
}

void vk_progress_update(uint64_t done, uint64_t total, void *ctx)
{
    struct vk_progress *p = ctx;
    if (!p || !p->enabled)
        return;
    int permille = total ? (int)(done >= total ? 1000 : (double)done * 1000 / (double)total) : 1000;
    if (permille != p->shown)
        draw(p, permille);
}

void vk_progress_end(struct vk_progress *p)
{
    if (!p->enabled || p->shown < 0)
        return;
    if (p->shown != 1000)
        draw(p, 1000);
    if (p->enabled && write(p->fd, "\n", 1) < 0)
        p->enabled = false;
}
