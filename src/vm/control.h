/* Operations on a running VM, over QEMU's second (CLI) QMP socket, each
 * under the VM's lock (runtime.h) so two vmkit commands do not interleave.
 * All return 0 or a negative errno with a message naming the VM
 * ("web: no such VM", "web: VM is not running (state crashed)"). */
#ifndef VK_VM_CONTROL_H
#define VK_VM_CONTROL_H

#include <jansson.h>

/* Press the ACPI power button (QMP system_powerdown; again every 10 s
 * while waiting, as a guest still booting misses a press).  With wait,
 * return once QEMU is gone (and the monitor has applied on_poweroff);
 * when timeout_s > 0 and it is still running after that many seconds,
 * -ETIMEDOUT "NAME: still running after N s" and the VM is left as it is
 * (the caller decides whether to destroy it). */
int vk_vm_shutdown(const char *name, int wait, int timeout_s);

/* Reset the machine (QMP system_reset); the monitor sees the reset as a
 * reboot and applies on_reboot. */
int vk_vm_reboot(const char *name);

/* Stop the VM at once (QEMU is killed, no guest cooperation) and remove
 * its state, also that of a preserved (shutdown/crashed) VM.  Returns once
 * the runtime directory is gone. */
int vk_vm_destroy(const char *name);

/* Run one QMP command (args: a JSON object, reference stolen; NULL for
 * none) on the running VM name under its lock; *ret (may be NULL) gets a
 * new reference to the return value.  For the commands of other files
 * (screenshot, removable media). */
int vk_vm_qmp(const char *name, const char *cmd, json_t *args, json_t **ret);

/* Stop / resume the virtual CPUs (QMP stop / cont). */
int vk_vm_pause(const char *name);
int vk_vm_unpause(const char *name);

#endif
