/* A running VM's screen and removable media, over QMP (control.h's CLI
 * socket, under the VM's lock).  All return 0 or a negative errno with a
 * message naming the VM. */
#ifndef VK_VM_SCREEN_H
#define VK_VM_SCREEN_H

/* Save VM name's screen as a PNG file at out, as `virsh screenshot` does:
 * QEMU's own PNG writer (QMP screendump format "png", QEMU 7.1 and later)
 * writes it into the runtime directory, and it is moved to out (copied
 * when out is on another filesystem; out appears complete or not at all).
 * A VM without a graphics card (nographic, vga = "none") is refused with
 * -ENODEV; so is a VM that is not running (-EINVAL). */
int vk_vm_screenshot(const char *name, const char *out);

/* Put the image file into the removable drive vdev (a cdrom: hdc, sda
 * ...; or a floppy: fda, fdb) of the running VM name, as `xl cd-insert`:
 * QMP blockdev-change-medium, read-only for a cdrom.  An empty drive
 * takes it; a medium already there is replaced (the guest sees it
 * change).  file must exist.  The medium lasts for this run of QEMU; the
 * VM's config is not changed. */
int vk_vm_media_insert(const char *name, const char *vdev, const char *file);

/* Take the medium out of drive vdev (QMP eject, forced: a guest that
 * locked the tray does not keep it), as `xl cd-eject`. */
int vk_vm_media_eject(const char *name, const char *vdev);

#endif
