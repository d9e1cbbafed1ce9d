/* Background writeback of a file being written: a helper thread starts the
 * kernel's writeback of the file's dirty pages (sync_file_range WRITE)
 * every few milliseconds and when asked, so that the CPU work of writeback (block allocation, bio
 * building) runs on another core, overlapping the copy, instead of in the
 * writer's own time.  A hint only: durability is still the writer's
 * fdatasync, which waits for whatever is left. */
#ifndef VK_WRITEBACK_H
#define VK_WRITEBACK_H

struct vk_writeback;

/* A helper for fd (which must stay open until vk_writeback_stop), or
 * NULL when no thread could be started: the caller then kicks inline
 * (vk_writeback_kick accepts NULL and does so, given fd). */
struct vk_writeback *vk_writeback_start(int fd);

/* Ask for the writeback of fd's dirty pages; returns at once.  Kicks
 * made while one is running are merged into one more run. */
void vk_writeback_kick(struct vk_writeback *w, int fd);

/* End the helper (a run under way finishes first) and free it.  NULL is
 * fine. */
void vk_writeback_stop(struct vk_writeback *w);

#endif
