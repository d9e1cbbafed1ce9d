/* Running a parser of guest-controlled bytes in a sandboxed child process.
 *
 * Reading a disk the guest controls (pygrub: partition tables, libext2fs,
 * the FAT code, boot configurations) is the classic way out of a VM host
 * (Xen's CVE-2007-4993).  vk_sandbox_run() forks; the child
 *   - closes every file descriptor except stderr, the answer pipe and the
 *     ones the caller lists (stdin and stdout become /dev/null);
 *   - sets resource limits: address space (what the process already maps
 *     plus sb->mem), CPU seconds, file size, no core dumps, no processes;
 *   - runs sb->prepare (open the image and its backing chain: new files
 *     can still be opened here), then allows no new descriptors at all;
 *   - sets PR_SET_NO_NEW_PRIVS, drops dumpability, and loads a seccomp
 *     filter (libseccomp) that allows only I/O on descriptors it already
 *     holds, memory management and exit: no open, no exec, no sockets, no
 *     fork, no kill;
 *   - runs sb->run, whose answer (a vk_sbuf) and error message travel back
 *     over a pipe, and ends with _exit.
 * A forbidden system call kills the child with SIGSYS; the parent reports
 * "NAME: WHAT killed by the sandbox (system call N, openat)".
 *
 * Test hooks: the environment variable VMKIT_SANDBOX_TEST (a comma list)
 * only ever tightens the sandbox or breaks the child, so it is honoured in
 * every build: "open" and "execve" make the child try that system call
 * once sandboxed; "spin" makes it loop forever (until its CPU limit),
 * "hang" sleep forever (until the parent's wall-clock limit);
 * "cpu=S", "wall=S", "mem=BYTES", "fsize=BYTES" lower the limits.
 */
#ifndef VK_UTIL_SANDBOX_H
#define VK_UTIL_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing byte buffer for the child's answer, read back field by field
 * in the parent.  Every get_* on a short or malformed buffer sets bad and
 * returns 0/NULL, so a decoder checks bad once at the end. */
struct vk_sbuf {
    uint8_t *p;
    size_t len, cap, pos;
    bool bad;          /* out of memory (put) or malformed (get) */
};

void vk_sbuf_put_u32(struct vk_sbuf *b, uint32_t v);
/* s may be NULL; it reads back as NULL. */
void vk_sbuf_put_str(struct vk_sbuf *b, const char *s);
uint32_t vk_sbuf_get_u32(struct vk_sbuf *b);
/* malloc'd (NULL when the string was NULL, or on error: check bad). */
char *vk_sbuf_get_str(struct vk_sbuf *b);
void vk_sbuf_free(struct vk_sbuf *b);

/* Defaults for the limits (0 in struct vk_sandbox). */
#define VK_SANDBOX_MEM   (1ull << 30)   /* address space beyond what is mapped at fork */
#define VK_SANDBOX_CPU   120            /* seconds */
#define VK_SANDBOX_FSIZE (1ull << 30)   /* largest offset a write may reach */
#define VK_SANDBOX_WALL  600            /* seconds the parent waits for an answer */

struct vk_sandbox {
    const char *name;    /* the object, first in messages ("disk.qcow2") */
    const char *what;    /* who runs in the child ("boot reader") */
    /* Descriptors the child keeps (outputs the parent opened), n_keep of
     * them.  In the child, keep[i] is updated if the descriptor had to be
     * moved (it was 0, 1 or 2). */
    int *keep;
    size_t n_keep;
    uint64_t mem, fsize; /* bytes; 0: the defaults above */
    unsigned cpu, wall;  /* seconds of CPU time, of waiting; 0: the defaults */
    /* Runs in the child before the filter, may open files; 0 or negative
     * errno after vk_error().  May be NULL. */
    int (*prepare)(void *ctx);
    /* Runs in the child under the filter; puts its answer into reply.
     * Returns >= 0 or a negative errno after vk_error(). */
    int (*run)(void *ctx, struct vk_sbuf *reply);
};

/* Run sb->prepare and sb->run in a sandboxed child (see above).  Returns
 * what run returned, with *reply holding the answer it put (free with
 * vk_sbuf_free; reset also on failure); or the negative errno that
 * prepare or run returned, with the child's message recorded through
 * vk_error(); or, if the child did not answer, -EPERM (killed by the
 * sandbox), -ETIMEDOUT (CPU limit, or no answer within the wall-clock
 * limit: then it is killed), -EIO (crashed or died) with a message
 * "NAME: WHAT ...". */
int vk_sandbox_run(const struct vk_sandbox *sb, void *ctx, struct vk_sbuf *reply);

/* The parent's half: what vk_sandbox_run returns for a child that wrote
 * the len bytes at buf (untrusted: a child may be subverted) and ended
 * with wait status status.  Exposed for the fuzz entry point. */
int vk_sandbox_answer(const struct vk_sandbox *sb, int status, const void *buf, size_t len,
                      struct vk_sbuf *reply);

#endif
