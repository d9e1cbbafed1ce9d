/* VMs as JSON objects: what `vmkit list --json` prints and `vmkit serve`'s
 * API returns, built in one place so the two always agree. */
#ifndef VK_VM_VMJSON_H
#define VK_VM_VMJSON_H

#include "vm/config.h"
#include "vm/runtime.h"

#include <jansson.h>

/* A running (or preserved) VM: name id uuid memory vcpus state time, and
 * with longfmt also accel, pids, disks, console paths, vnc, forwards,
 * runtime_dir.  A new reference, or NULL when out of memory. */
json_t *vk_vminfo_json(const struct vk_vminfo *v, int longfmt);

/* A defined VM that is not running, as virsh list --all shows it: state
 * "shut off", id and time null. */
json_t *vk_defined_json(const char *name, const struct vk_domcfg *cfg);

#endif
