/* A progress bar for long operations (img convert), drawn on a terminal.
 *
 * The library never prints on its own: the application creates a
 * vk_progress on a file descriptor it owns (the CLI passes stderr) and
 * hands vk_progress_update to library loops as their progress callback. */
#ifndef VK_UTIL_PROGRESS_H
#define VK_UTIL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct vk_progress {
    int fd;             /* where the bar is drawn */
    bool enabled;       /* false: every call is a no-op */
    int shown;          /* last tenth of a percent drawn, -1 before any */
};

/* Set p up to draw on fd.  force draws even when fd is not a terminal
 * (`convert -p`); otherwise the bar is drawn only on a TTY. */
void vk_progress_init(struct vk_progress *p, int fd, bool force);

/* Redraw "    (42.00/100%)" style progress for done of total bytes.  Only
 * redraws when the shown value changes, so it is cheap to call often.
 * Matches the void (*)(uint64_t, uint64_t, void *) callback shape with
 * ctx a struct vk_progress *. */
void vk_progress_update(uint64_t done, uint64_t total, void *ctx);

/* Draw 100% and end the line (if anything was drawn). */
void vk_progress_end(struct vk_progress *p);

#endif
