/* Inside guest/: what the builders (guest.c: busybox, debian.c: Debian
 * through mmdebstrap) share.  Not part of the library's interface. */
#ifndef VK_GUEST_GUEST_INT_H
#define VK_GUEST_GUEST_INT_H

#include "guest/guest.h"

#include "block/blockdev.h"
#include "fs/fs.h"

#include <stdbool.h>
#include <sys/types.h>

/* Progress line through o->progress (nothing when it is NULL). */
void vk_guest_say(const struct vk_guest_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Write len bytes of data to the host file path (created or truncated,
 * then chmod'ed to mode). */
int vk_guest_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* Remove the host tree dir (no symlinks followed); errors ignored. */
void vk_guest_rm_rf(const char *dir);

/* The disk being built: the image, its one bootable MBR partition (the
 * first, at 1 MiB: GRUB's core image fits in the gap), and the fresh ext4
 * filesystem there, mounted read-write. */
struct vk_guest_disk {
    struct vk_blockdev *bd;     /* the whole image */
    struct vk_blockdev *part;   /* partition 1 */
    struct vk_fs *fs;
    unsigned num;               /* its partition number */
    char name[4200];            /* "OUT:1", for messages */
};

/* Create o->out (o->format, o->size bytes), partition it and make ext4
 * labelled label with UUID uuid (NULL: random) on partition 1, mounted in
 * d->fs.  Messages name the
 * partition shown:1 (shown: the name the user gave). */
int vk_guest_disk_make(const struct vk_guest_opts *o, const char *shown, const char *label,
                       const char *uuid, struct vk_guest_disk *d);

/* Unmount (when still mounted) and close everything; the first error. */
int vk_guest_disk_close(struct vk_guest_disk *d);

/* The Debian builder (debian.c).  o->out is the temporary image name,
 * shown the user's name for it (messages); tmp a private scratch
 * directory; host the hostname.  *kver gets the kernel version or "none"
 * (malloc'd). */
int vk_guest_build_debian(const struct vk_guest_opts *o, const char *shown, const char *tmp,
                          const char *host, char **kver);

/* Checks of the Debian options that need no network (debian.c): the
 * suite, the ssh key file, the user name, the package names.  Messages
 * name the option. */
int vk_guest_debian_check(const struct vk_guest_opts *o);

/* A child whose stdout is read as a stream while its stderr is drained
 * in a thread (mmdebstrap.c): each stderr line goes to line() and the
 * last lines are kept for the error message. */
struct vk_child {
    pid_t pid;
    int out;                    /* read end of the child's stdout, or -1 */
    int err;                    /* read end of its stderr */
    const char *name;           /* argv[0], for messages */
    void (*line)(const char *line, void *ctx);
    void *ctx;
    char tail[2048];            /* its last stderr lines */
    char errs[1024];            /* its last lines starting "E: " */
    bool thread;
    bool killed;                /* finish stopped it (it had not exited) */
    unsigned long tid;          /* pthread_t, kept opaque here */
};

/* Start argv (argv[0] looked up in PATH) with stdin /dev/null.  -ENOENT
 * naming argv[0] when it cannot be run. */
int vk_child_start(const char *const *argv, struct vk_child *c);

/* Close c->out (after abort: SIGTERM to the child first, so it cleans up
 * and exits), wait for it and its stderr.  0 when it exited 0; else -EIO
 * "NAME failed (exit N): its last error lines". */
int vk_child_finish(struct vk_child *c, bool abort);

#endif
