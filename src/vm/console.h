/* The serial console of a running VM (QEMU's console.sock).
 *
 * Interactive (in_fd a terminal): the terminal is put in raw mode for the
 * session and restored after; Ctrl-] (0x1d) leaves.  Otherwise bytes are
 * copied from in_fd to the console and from the console to out_fd until
 * in_fd reaches end of file, then output keeps being copied for drain_ms
 * more.  Either way timeout_ms (if > 0) ends the session, and a VM that
 * restarts (on_reboot = "restart") is reconnected to.
 */
#ifndef VK_VM_CONSOLE_H
#define VK_VM_CONSOLE_H

#include <stddef.h>

#define VK_CONSOLE_ESCAPE 0x1d   /* Ctrl-] */

struct vk_console_opts {
    int in_fd, out_fd;
    int interactive;    /* in_fd is a terminal: raw mode, Ctrl-] leaves */
    int timeout_ms;     /* > 0: end the session after this long */
    int drain_ms;       /* output copied after in_fd's EOF; 0 = 1000 */
};

/* Attach to VM name's console.  Returns 0 when the session ended by the
 * user's side (Ctrl-], EOF plus drain, timeout), 1 when the VM went away,
 * or a negative errno ("web: no such VM", "web: VM is not running"). */
int vk_console_run(const char *name, const struct vk_console_opts *o);

/* Connect to running VM name's console socket (waiting up to wait_ms
 * while QEMU comes up), its runtime dir into dir.  Returns the socket
 * (close-on-exec, blocking), or a negative errno as vk_console_run. */
int vk_console_open(const char *name, char *dir, size_t dlen, int wait_ms);

#endif
