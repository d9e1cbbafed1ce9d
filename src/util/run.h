/* Running external tools (e2fsck, resize2fs, apt-get, dpkg-deb, mke2fs...)
 * as child processes, with their output captured. */
#ifndef VK_UTIL_RUN_H
#define VK_UTIL_RUN_H

#include <stddef.h>

/* Run argv (argv[0] looked up in PATH; a bare name not found there is also
 * tried in /usr/sbin and /sbin, which not every user's PATH has) in cwd
 * (NULL: the current directory), stdin from /dev/null, stdout and stderr
 * captured together.  *exit_status gets the tool's exit status (128+N when
 * signal N ended it; 127 when it could not be executed).  *output (may be
 * NULL) gets the whole output, malloc'd and NUL-terminated.
 * Returns 0 when the tool ran, whatever its exit status; -ENOENT with
 * "TOOL: not installed" when it does not exist; another negative errno
 * when it could not be started or waited for. */
int vk_run_capture(const char *const *argv, const char *cwd, int *exit_status, char **output);

/* Run argv as vk_run_capture does and require exit status 0.  out (may be
 * NULL) gets the first outlen-1 bytes of the output, NUL-terminated.
 * Returns 0, or -EIO with "TOOL failed (exit N): <its last output line>". */
int vk_run(const char *const *argv, const char *cwd, char *out, size_t outlen);

/* Find program name as execvp would: a name with a '/' is taken as is,
 * otherwise the first executable regular file in $PATH.  Its path goes
 * to buf.  -ENOENT ("NAME: not found in PATH") when there is none. */
int vk_which(const char *name, char *buf, size_t len);

#endif
