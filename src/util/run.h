/* Running a helper tool (apt-get, dpkg-deb, grub-mkimage) as a child
 * process, its output captured for error messages.  Used by boot/ and
 * guest/, so it sits at the bottom of the layers. */
#ifndef VK_UTIL_RUN_H
#define VK_UTIL_RUN_H

#include <stddef.h>

/* Run argv (argv[0] searched in PATH) in directory cwd (NULL: current),
 * stdin from /dev/null, stdout+stderr captured into out (up to outlen-1
 * bytes, NUL-terminated; out may be NULL).  0 if it exited 0; otherwise
 * -EIO with a message naming argv[0], its status and its last output line.
 * The child ends with _exit, so an embedding program's atexit handlers
 * never run twice. */
int vk_run(const char *const *argv, const char *cwd, char *out, size_t outlen);

/* Find program name as execvp would: a name with a '/' is taken as is,
 * otherwise the first executable regular file in $PATH.  Its path goes
 * to buf.  -ENOENT ("NAME: not found in PATH") when there is none. */
int vk_which(const char *name, char *buf, size_t len);

#endif
