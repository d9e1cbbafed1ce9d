/* Walking a directory tree inside a filesystem: every recursive command
 * (ls -R, get -r, rm -r, tar export) goes through vk_fs_walk.
 *
 * The walk goes by node (fs.h), so each entry is reached once and no name
 * is looked up again: it is linear in the number of entries (plus sorting
 * each directory).  Its stack is on the heap, so a tree 10,000 levels deep
 * costs memory, not the C stack.  A directory met a second time (an entry
 * pointing back at an ancestor, or a second hard link to a directory) is
 * refused, so a crafted image cannot make the walk endless or exponential.
 */
#ifndef VK_FS_WALK_H
#define VK_FS_WALK_H

#include "fs/fs.h"

#include <stddef.h>

/* One entry of a directory, as the walk hands it out. */
struct vk_walk_ent {
    char *name;             /* bytes, as stored */
    struct vk_node node;
    struct vk_stat st;      /* lstat with VK_WALK_STAT; otherwise only the
                             * type bits of st.mode are set */
};

enum vk_walk_event {
    VK_WALK_FILE,           /* anything but a directory */
    VK_WALK_ENTER,          /* a directory, before what is in it */
    VK_WALK_LEAVE,          /* a directory, after what is in it */
    VK_WALK_ERROR,          /* e could not be walked: the message is in
                             * vk_errmsg(), naming the device and path */
};

/* What the callback sees.  path is the image path of e (any length: give
 * the by-node calls and messages vk_path_abbrev(path) from path.h); depth
 * is 0 for the starting point.  For VK_WALK_ENTER, kids[0..nkids) are the
 * directory's entries sorted by name (strcmp), each then visited in that
 * order.  Return 0 to go on; 1 from VK_WALK_ENTER not to descend (no LEAVE
 * follows); 0 from VK_WALK_ERROR skips the entry, <0 stops the walk. */
struct vk_walk_visit {
    enum vk_walk_event ev;
    const char *path;
    size_t depth;
    const struct vk_walk_ent *e;
    const struct vk_walk_ent *kids;
    size_t nkids;
    int err;                /* VK_WALK_ERROR: the negative errno */
};
typedef int (*vk_walk_cb)(void *ctx, const struct vk_walk_visit *v);

enum {
    VK_WALK_STAT = 1 << 0,      /* lstat every entry */
    VK_WALK_FOLLOW = 1 << 1,    /* follow a symlink at the starting path */
};

/* Walk the tree at path (normalized) in fs.  Returns 0, the first
 * negative errno the callback returned (its message recorded), or a
 * negative errno from resolving path. */
int vk_fs_walk(struct vk_fs *fs, const char *path, int flags, vk_walk_cb cb, void *ctx);

#endif
