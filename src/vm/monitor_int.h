/* Between start.c (vk_vm_start) and monitor.c: the monitor process's
 * entry point.  Not for other callers. */
#ifndef VK_VM_MONITOR_INT_H
#define VK_VM_MONITOR_INT_H

#include "vm/config.h"
#include "vm/monitor.h"

/* Run as VM dir's monitor (in the forked, setsid()'d process): redirect
 * stdio to the monitor log, start QEMU with argv, attach to QMP, write
 * "OK" or "ERR ERRNO MESSAGE" to status_fd (then closed), and follow QEMU
 * until the VM ends (runtime dir removed or preserved).  Returns the
 * process's exit status (0, or 1 if QEMU could not be started), which the
 * caller passes to _exit(): the monitor is a fork of the embedding
 * program, whose atexit handlers and stdio buffers are not its own. */
int vk_monitor_main(const char *dir, char **argv, const struct vk_domcfg *c,
                    const struct vk_start_opts *o, int status_fd);

#endif
