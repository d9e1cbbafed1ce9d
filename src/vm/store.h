/* Persistent domains and per-VM runtime directories.
 *
 * Config dir: $XDG_CONFIG_HOME/vmkit (default ~/.config/vmkit); for root
 * /etc/vmkit.  $VMKIT_CONFIG_DIR overrides both (tests).  A defined domain
 * is NAME.cfg there, in xl.cfg syntax (written by vk_domcfg_format).
 *
 * Runtime dir: $XDG_RUNTIME_DIR/vmkit/NAME; root /run/vmkit/NAME; when
 * XDG_RUNTIME_DIR is unset (non-root) /tmp/vmkit-UID/NAME.
 * $VMKIT_RUNTIME_DIR overrides the base (tests).  Every directory vmkit
 * creates there is mode 0700; an existing base not owned by us or
 * accessible by others is refused.
 */
#ifndef VK_VM_STORE_H
#define VK_VM_STORE_H

#include "vm/config.h"
#include <stddef.h>

/* The config directory path into buf (not created).  0 or -ENAMETOOLONG /
 * -ENOENT (no HOME). */
int vk_store_dir(char *buf, size_t len);

/* Write c as NAME.cfg, creating the directory (0700).  c should have
 * passed vk_domcfg_check first, so the generated uuid and MACs are stored
 * with it.  Refuses -EEXIST when NAME is already defined or another VM has
 * its uuid (vk_store_uuid_check).  File mode 0600 (may hold a VNC
 * password).  Atomic (temp file, fsync, link). */
int vk_store_define(const struct vk_domcfg *c);

/* Replace the stored NAME.cfg of a defined domain with c (checked, as for
 * define; vk_store_uuid_check applies), atomically (temp file, fsync,
 * rename): a reader sees the old or the new config, never a mix.
 * -ENOENT when NAME is not defined. */
int vk_store_replace(const struct vk_domcfg *c);

/* The path of NAME.cfg into buf.  0 or negative errno. */
int vk_store_path(const char *name, char *buf, size_t len);

/* As libvirt refuses a second domain with one uuid: -EEXIST "NAME: uuid U
 * already belongs to the defined domain 'X'" (or "running") when a VM of
 * another name is defined, running or preserved with c->uuid (compared
 * without case).  0 when c has no uuid yet. */
int vk_store_uuid_check(const struct vk_domcfg *c);

/* Remove NAME.cfg.  -ENOENT "NAME: no such domain defined". */
int vk_store_undefine(const char *name);

/* Load NAME.cfg into *out (parsed, not checked).  -ENOENT when absent. */
int vk_store_load(const char *name, struct vk_domcfg *out);

/* Defined domain names, sorted: *names is a malloc'd array of malloc'd
 * strings (free with vk_store_list_free).  Returns the count or a
 * negative errno.  A missing config dir is 0 names. */
int vk_store_list(char ***names);
void vk_store_list_free(char **names, int n);

/* Base runtime dir ($XDG_RUNTIME_DIR/vmkit etc.) into buf, created 0700
 * with parents when create is set.  0 or negative errno. */
int vk_runtime_base(char *buf, size_t len, int create);

/* Runtime dir of VM name into buf; created (0700, parents too) when
 * create is set.  0 or negative errno. */
int vk_runtime_dir(const char *name, char *buf, size_t len, int create);

/* True (1) when name is a valid VM name (see vk_domcfg_check). */
int vk_name_valid(const char *name);

#endif
