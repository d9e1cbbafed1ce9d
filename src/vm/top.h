/* What `vmkit top` shows: a sample of every VM's resource use, as xentop.
 *
 * One sample reads, per VM of the runtime directory (runtime.h):
 *   - CPU: the user + system time of QEMU's vCPU threads
 *     (/proc/PID/task/TID/stat, the thread ids from QMP query-cpus-fast);
 *     when QMP does not answer, the whole QEMU process's time
 *     (/proc/PID/stat).  CPU % is the time used between two samples over
 *     the wall time between them, 100 per busy host CPU, so at most 100 x
 *     vCPUs; in a first sample (or when QEMU changed), the average since
 *     the thread started, as ps(1) shows it.
 *   - memory: the configured size (memory=) and QEMU's resident set
 *     (/proc/PID/statm), which includes QEMU's own use.
 *   - block: QMP query-blockstats, per device and summed (read and write
 *     operations and bytes since QEMU started).
 *   - network: the bytes through each NIC when every NIC is a tap device
 *     (vif bridge=: the tap named in /proc/PID/fdinfo of QEMU's
 *     /dev/net/tun descriptors, counted in /sys/class/net/TAP/statistics);
 *     user-mode NICs (slirp) keep no counter QEMU reports, so unknown;
 *     a VM without NICs has 0.
 * Nothing is locked and nothing written: a VM that ends while it is
 * sampled is shown with what was read (unknown values -1), never an
 * error.  Stats are asked on the CLI's QMP socket with a short timeout;
 * a VM whose socket is busy (another vmkit command) shows unknown block
 * figures for that sample.
 */
#ifndef VK_VM_TOP_H
#define VK_VM_TOP_H

#include "vm/runtime.h"

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

struct vk_top_disk {
    char device[64];                          /* QEMU's ("disk0") */
    int64_t rd_ops, wr_ops, rd_bytes, wr_bytes;
};

/* One VM in a sample.  Counters are -1 (CPU %, CPU time: < 0) when
 * unknown. */
struct vk_top_vm {
    char name[80];
    int id;
    enum vk_vm_state state;
    pid_t pid;                  /* QEMU's, 0 when not running */
    long vcpus, mem_mib;        /* configured */
    int64_t rss;                /* QEMU's resident memory, bytes */
    double cpu_secs, cpu_pct;
    int n_disks;                /* -1: QMP did not answer */
    struct vk_top_disk *disks;
    int64_t rd_ops, wr_ops, rd_bytes, wr_bytes;   /* over all disks */
    int nets;                   /* configured NICs */
    int64_t net_rx, net_tx;     /* bytes the guest received / sent */
    /* for the next sample: where the CPU time came from and when */
    int cpu_vcpus;              /* 1: vCPU threads, 0: whole process */
    unsigned long long start;   /* QEMU's start time (a new QEMU restarts CPU %) */
    double when;                /* CLOCK_MONOTONIC seconds */
};

struct vk_top {
    struct vk_top_vm *vm;
    int n;
    double time;                /* wall clock (seconds since the epoch) */
};

/* Sample every VM with a runtime directory (sorted by id).  prev (NULL
 * for the first) is the previous sample: a VM in both, with the same
 * QEMU, gets its CPU % over the time between the two.  Returns the
 * number of VMs (0 when none runs) with *out filled (free with
 * vk_top_free), or a negative errno when the runtime directory cannot be
 * read. */
int vk_top_sample(const struct vk_top *prev, struct vk_top *out);
void vk_top_free(struct vk_top *t);

/* Fill v's disk figures from QEMU's reply to query-blockstats and return
 * the vCPU thread ids of its reply to query-cpus-fast in tids (at most
 * max, duplicates dropped: single-threaded TCG runs every vCPU on one).
 * Either reply may be NULL (not asked, or no answer).  Both are untrusted:
 * fields of the wrong type are skipped.  Returns the number of thread
 * ids, or -ENOMEM. */
int vk_top_from_qmp(struct vk_top_vm *v, const json_t *blockstats, const json_t *cpus,
                    pid_t *tids, int max);

enum vk_top_key {
    VK_TOP_BY_ID, VK_TOP_BY_NAME, VK_TOP_BY_STATE, VK_TOP_BY_CPU, VK_TOP_BY_CPUTIME,
    VK_TOP_BY_MEM, VK_TOP_BY_VCPUS, VK_TOP_BY_READ, VK_TOP_BY_WRITE, VK_TOP_BY_NET,
};

/* Sort t's VMs by key: names, ids and states ascending, figures largest
 * first (unknown last), as xentop; reverse turns it round.  Ties go by id. */
void vk_top_sort(struct vk_top *t, enum vk_top_key key, int reverse);

#endif
