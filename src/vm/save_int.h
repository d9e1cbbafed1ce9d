/* What `vmkit save`/`restore` (save.c) and live migration (migrate.c)
 * share: the metadata that describes a VM's QEMU to the receiving side,
 * the config rebuilt from it, and ending the sender's QEMU afterwards. */
#ifndef VK_VM_SAVE_INT_H
#define VK_VM_SAVE_INT_H

#include "vm/qmp.h"
#include "vm/runtime.h"
#include "vm/save.h"
#include "vm/savefile.h"

/* The metadata (a new JSON object into *out) of running VM info, whose
 * QMP is q: "config" (the effective xl.cfg with the concrete machine
 * type, which also replaces info->cfg.machine), "accel", "qemu" (version),
 * "argv", "created", and "append" (pygrub's kernel command line) when
 * there is a bootloader.  No "files": the caller adds them.  0 or a
 * negative errno with a message. */
int vk_save_meta(struct vk_qmp *q, struct vk_vminfo *info, json_t **out);

/* The config of metadata m (what: the file or stream for messages) with
 * o's --name and overrides applied (o may be all zero), its accel that of
 * the sender (-EINVAL when an override asks for another one: QEMU loads a
 * stream only under the accelerator that wrote it).  Free *cfg with
 * vk_domcfg_free; on error nothing is left to free. */
int vk_save_config(const char *what, const struct vk_savemeta *m,
                   const struct vk_restore_opts *o, struct vk_domcfg *cfg);

/* End the QEMU of info (QMP "quit" on q) after its state went elsewhere,
 * and wait (up to 20 s) until the monitor has removed its runtime
 * directory.  0 or a negative errno. */
int vk_save_quit(struct vk_qmp *q, const struct vk_vminfo *info);

#endif
