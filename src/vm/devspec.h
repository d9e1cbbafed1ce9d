/* The small device specs of xl.cfg (serial, p9, channel, usbdevice, vfb,
 * viridian, soundhw): checks used while parsing (errors name the spec) and
 * the parsed forms the QEMU command line is built from. */
#ifndef VK_VM_DEVSPEC_H
#define VK_VM_DEVSPEC_H

#include "vm/config.h"

/* serial: QEMU's -serial syntax, which xl passes through to QEMU.
 * VK_SER_PTY: "pty", the console socket for port 0 (a socket in the
 * runtime directory for the others); VK_SER_NONE: "none", no port at that
 * index; VK_SER_CHARDEV: *opts is the -chardev backend and options
 * without id= ("socket,host=h,port=4555,server=on,wait=off").  Returns 0
 * or -EINVAL "serial 'SPEC': why". */
enum vk_serial_kind { VK_SER_PTY, VK_SER_NONE, VK_SER_CHARDEV };
int vk_serial_parse(const char *spec, enum vk_serial_kind *kind, char **opts);
int vk_serial_check(const char *spec);

/* p9: "tag=T,path=P,security_model=M[,backend=dom0]", all three required
 * as in xl.  security_model none (xl's only value) or QEMU's mapped-xattr /
 * mapped-file; passthrough only for root. */
struct vk_p9 { char *tag, *path, *model; };
int vk_p9_parse(const char *spec, struct vk_p9 *p);
int vk_p9_check(const char *spec);
void vk_p9_free(struct vk_p9 *p);

/* channel: "name=N,connection=socket,path=P" (a unix socket QEMU listens
 * on) or "name=N,connection=pty" (a socket in the runtime directory). */
struct vk_channel { char *name, *path; };   /* path NULL for pty */
int vk_channel_parse(const char *spec, struct vk_channel *ch);
int vk_channel_check(const char *spec);
void vk_channel_free(struct vk_channel *ch);

/* usbdevice: "tablet", "mouse", "keyboard", "wacom-tablet" -> the QEMU
 * device name (static), or NULL after vk_error naming the spec. */
const char *vk_usbdevice_qemu(const char *spec);
int vk_usbdevice_check(const char *spec);

/* vfb: "type=vnc,vnclisten=A,vncdisplay=N,vncunused=1,vncpasswd=P,keymap=K"
 * (xl's keys; type=sdl and sdl=1 are refused). */
struct vk_vfb {
    int vnc;            /* 1 unless vnc=0 (xl's default for a vfb is on) */
    char *vnclisten, *vncpasswd, *keymap;
    long vncdisplay;    /* VK_UNSET when absent */
    int vncunused;      /* -1 when absent */
};
int vk_vfb_parse(const char *spec, struct vk_vfb *f);
int vk_vfb_check(const char *spec);
void vk_vfb_free(struct vk_vfb *f);

/* viridian groups (base, freq, time_ref_count, ..., defaults, all, and
 * "!group") -> QEMU -cpu flags "hv-relaxed,hv-vapic,..." in buf ("" when
 * none).  0 or -EINVAL naming the group. */
int vk_viridian_check(const char *group);
int vk_viridian_flags(const struct vk_strv *groups, char *buf, size_t len);

/* soundhw: a card or a comma-separated list ("hda", "ac97,sb16", "all").
 * vk_soundhw_devices writes up to max QEMU device names (static strings)
 * and returns how many, or -EINVAL. */
int vk_soundhw_check(const char *spec);
int vk_soundhw_devices(const char *spec, const char **devs, int max);

/* The i-th key of vmkit's xl.cfg key table, NULL past the end (tests walk
 * it). */
const char *vk_cfg_key_name(unsigned i);

#endif
