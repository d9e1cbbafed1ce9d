/* Hot-plug over QMP, as Xen's xl: block-attach / block-detach /
 * block-list, network-attach / network-detach / network-list, mem-set
 * (virtio balloon) and vcpu-set (hot-pluggable CPUs).
 *
 * A running VM's runtime directory (runtime.h) keeps what was changed:
 *   config    the effective xl.cfg, rewritten after each attach/detach, so
 *             `vmkit config`, `list -l` and save see the VM as it is now;
 *   hotplug   one line per device attached to this run of QEMU ("disk VDEV"
 *             or "nic MAC"): those have QEMU ids vmkit chose (node and
 *             device "hp-VDEV"; netdev "hpnet-MAC" and device "hpnic-MAC",
 *             MAC without colons); the devices QEMU started with are found
 *             by their file (query-block) or MAC (qom-get).
 * A QEMU restarted by on_reboot = "restart" runs its original argv again:
 * vk_hp_reset puts config back and forgets the record.  With persist, an
 * attach or detach also changes the stored config of the defined VM
 * (store.h), which is then the only change for a VM that is not running.
 * Every operation runs under the VM's lock (migstream.h's
 * vk_vm_qmp_open); all
 * return 0 or a negative errno with a message naming the VM. */
#ifndef VK_VM_HOTPLUG_H
#define VK_VM_HOTPLUG_H

#include "vm/runtime.h"

#include <stdint.h>

/* Attach the disk an xl disk spec describes ("file.img,xvdb,w",
 * "format=qcow2,vdev=xvdc,access=r,target=x.qcow2") to the running VM
 * name: QMP blockdev-add, then device_add (virtio-blk-pci for xvdX/vdX;
 * scsi-hd when the VM has an SCSI disk already, so a controller).  Refused
 * before QEMU is asked: a bad spec (-EINVAL), an empty drive or cdrom,
 * IDE or floppy vdevs (QEMU cannot hot-plug them), a vdev in use
 * (-EEXIST), a missing or unreadable file (-ENOENT / -EACCES), an image
 * another process holds open for writing when attaching it writable
 * (-EBUSY, QEMU's own lock bytes; block/lock.c).  When device_add fails
 * the block node is deleted again: nothing is left half-added. */
int vk_hp_block_attach(const char *name, const char *spec, int persist);

/* Unplug disk vdev (QMP device_del) and wait up to 30 s for the guest to
 * let it go (DEVICE_DELETED; the guest must handle ACPI PCI hot-unplug:
 * -ETIMEDOUT otherwise, the disk stays attached), then delete its block
 * node.  -ENOENT for a vdev the VM does not have; IDE disks, cdroms and
 * floppies are refused (-EINVAL).  Disks of the VM's config are detached
 * too, as xl does. */
int vk_hp_block_detach(const char *name, const char *vdev, int persist);

/* Attach a NIC from an xl vif spec ("mac=..,bridge=..,model=..,
 * hostfwd=.."; a MAC is generated when absent, xl's way): netdev_add,
 * then device_add; a failed device_add removes the netdev again.  A MAC
 * the VM already has is refused (-EEXIST). */
int vk_hp_nic_attach(const char *name, const char *spec, int persist);

/* Unplug the NIC with this MAC, or the one at this index (0-based, the
 * order of `network-list`), and remove its netdev.  Waits for the guest
 * as vk_hp_block_detach does. */
int vk_hp_nic_detach(const char *name, const char *mac_or_index, int persist);

/* The running VM's devices as they are now: *info (the effective config
 * in info->cfg; free with vk_vminfo_free) and, for each disk and NIC,
 * whether it was hot-plugged into this run: vk_hp_is_hot. */
int vk_hp_info(const char *name, struct vk_vminfo *info);
int vk_hp_is_hot(const struct vk_vminfo *info, const char *kind, const char *key);

/* Set the balloon target of the running VM to mib MiB, as xl mem-set:
 * QMP balloon; the guest's virtio-balloon driver gives the memory back
 * (or takes it again) in its own time: query-balloon shows progress.
 * mib must be between 32 and the VM's memory (the balloon can return
 * memory it took, never add more): -ERANGE otherwise.  -ENODEV when QEMU
 * has no balloon device. */
int vk_hp_mem_set(const char *name, long mib);

/* Bring the running VM to n online vCPUs, as xl vcpu-set: hot-plug CPUs
 * (device_add of query-hotpluggable-cpus' free slots, lowest first) or
 * unplug ones vcpu-set added (device_del, waiting for the guest).  Only
 * between 1 and maxvcpus, and never below the vcpus the VM started with
 * (QEMU cannot unplug those): -ERANGE; a VM without maxvcpus > vcpus has
 * no room for more CPUs: -EINVAL saying so.  Under TCG CPUs are never
 * unplugged (-EOPNOTSUPP): QEMU aborts when one is plugged in again. */
int vk_hp_vcpu_set(const char *name, long n);

/* 0 when nothing was hot-plugged into info's running QEMU, else -EBUSY
 * naming the device: QEMU's state (save, migration) names devices by PCI
 * slot, and a machine built from the config puts them elsewhere. */
int vk_hp_movable(const struct vk_vminfo *info);

/* The monitor restarts QEMU from its argv: the devices of the previous
 * run are gone.  Rewrite dir/config from c (the config the VM started
 * with) and remove dir/hotplug.  0 or negative errno. */
int vk_hp_reset(const char *dir, const struct vk_domcfg *c);

#endif
