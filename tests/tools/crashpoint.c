/* crashpoint: run a command and SIGKILL it just before its Nth write to a
 * file, for the crash-injection tests (tests/crash_lib.sh).
 *
 *   crashpoint N FILE CMD [ARG...]
 *
 * The command runs under ptrace.  Every system call that changes FILE
 * (pwrite64, pwritev, pwritev2, write, writev, fallocate, ftruncate,
 * fdatasync, fsync, sync_file_range, copy_file_range) made on a
 * descriptor that refers to FILE (same device and inode) counts as one
 * "write".  Syncs count too, so a crash can land between a write and the
 * sync that would make it durable.  When the Nth write is about to run,
 * the command is killed with SIGKILL: writes 1..N-1 happened, N and later
 * did not.  That is exactly what a crashed process leaves behind (the
 * page cache survives a process kill).
 *
 * N = 0 never kills: use it to count the writes of a whole run.
 *
 * FILE may be a directory: then writes to any file directly in it count,
 * and syncs of the directory itself (for commands that build a file
 * under a temporary name and rename it, like img convert).
 *
 * Prints on stderr, as its last line, "crashpoint: W writes" (W counted
 * before the kill) and, if it killed, "crashpoint: killed before write N".
 * Exit status: 137 if it killed the command at N; otherwise the
 * command's own (128+signal if a signal ended it); 125 on setup errors.
 * Children the command forks (an $EDITOR) run untraced and uncounted.
 *
 * Only the counted system calls stop the command: a seccomp filter sends
 * them to the tracer (SECCOMP_RET_TRACE) and lets every other call run,
 * so a traced run costs little more than an untraced one.
 *
 *   crashpoint -r LOG N FILE CMD [ARG...]
 *
 * also records every counted call on FILE (a regular file) in LOG, with
 * the bytes each write carries, for tests/tools/powercut.py to rebuild
 * what a power cut could leave: writes since the last sync persisted in
 * any subset, not just in order.  One record per counted call, in count
 * order: op (1 byte: 'W' write, 'T' ftruncate, 'F' fallocate, 'S' sync,
 * 'X' a call it cannot replay), mode (u32: fallocate's), offset (u64),
 * length (u64), then for 'W' the length bytes; little-endian, packed. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static dev_t want_dev;
static ino_t want_ino;
static char *want_dir;  /* FILE is a directory: its real path */

/* Does descriptor fd of process pid refer to FILE (or, for a directory,
 * to a file in it)? */
static int is_target(pid_t pid, long fd)
{
    char p[64], link[4096];
    struct stat st;
    snprintf(p, sizeof p, "/proc/%d/fd/%ld", (int)pid, fd);
    if (stat(p, &st) < 0)
        return 0;
    if (st.st_dev == want_dev && st.st_ino == want_ino)
        return 1;
    if (!want_dir || !S_ISREG(st.st_mode))
        return 0;
    ssize_t n = readlink(p, link, sizeof link - 1);
    if (n <= 0)
        return 0;
    link[n] = 0;
    char *slash = strrchr(link, '/');
    size_t dl = strlen(want_dir);
    return slash && (size_t)(slash - link) == dl && !strncmp(link, want_dir, dl);
}

static FILE *rec;       /* -r LOG, or NULL */

static int put_rec(char op, uint32_t mode, uint64_t off, uint64_t len)
{
    return fwrite(&op, 1, 1, rec) == 1 && fwrite(&mode, 4, 1, rec) == 1 &&
           fwrite(&off, 8, 1, rec) == 1 && fwrite(&len, 8, 1, rec) == 1 ? 0 : -1;
}

/* Copy len bytes at addr in process pid into the log. */
static int put_mem(pid_t pid, uint64_t addr, uint64_t len)
{
    static char buf[1 << 20];
    while (len) {
        size_t n = len < sizeof buf ? len : sizeof buf;
        struct iovec l = { buf, n }, r = { (void *)(uintptr_t)addr, n };
        if (process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)n || fwrite(buf, 1, n, rec) != n)
            return -1;
        addr += n;
        len -= n;
    }
    return 0;
}

/* The file position of pid's descriptor fd (for write and writev). */
static long long fd_pos(pid_t pid, long fd)
{
    char p[64], line[256];
    long long pos = -1;
    snprintf(p, sizeof p, "/proc/%d/fdinfo/%ld", (int)pid, fd);
    FILE *f = fopen(p, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "pos: %lld", &pos) == 1)
            break;
    if (f)
        fclose(f);
    return pos;
}

/* Log the call si of pid, about to run on FILE.  Writes are logged whole:
 * a regular file takes a write whole unless the disk is full. */
static int record(pid_t pid, const struct __ptrace_syscall_info *si)
{
    const uint64_t *a = si->seccomp.args;
    long nr = (long)si->seccomp.nr;
    if (nr == SYS_pwrite64)
        return put_rec('W', 0, a[3], a[2]) || put_mem(pid, a[1], a[2]) ? -1 : 0;
    if (nr == SYS_write) {
        long long pos = fd_pos(pid, (long)a[0]);
        return pos < 0 || put_rec('W', 0, (uint64_t)pos, a[2]) || put_mem(pid, a[1], a[2]) ? -1 : 0;
    }
    if (nr == SYS_pwritev || nr == SYS_pwritev2 || nr == SYS_writev) {
        long long pos = nr == SYS_writev ? fd_pos(pid, (long)a[0]) : (long long)a[3];
        if (pos < 0 || a[2] > 1024)
            return -1;
        struct iovec iov[1024];
        struct iovec l = { iov, a[2] * sizeof *iov }, r = { (void *)(uintptr_t)a[1], a[2] * sizeof *iov };
        if (process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)(a[2] * sizeof *iov))
            return -1;
        for (uint64_t i = 0; i < a[2]; i++) {
            if (put_rec('W', 0, (uint64_t)pos, iov[i].iov_len) ||
                put_mem(pid, (uint64_t)(uintptr_t)iov[i].iov_base, iov[i].iov_len))
                return -1;
            pos += (long long)iov[i].iov_len;
        }
        return 0;
    }
    if (nr == SYS_ftruncate)
        return put_rec('T', 0, a[1], 0);
    if (nr == SYS_fallocate)
        return put_rec('F', (uint32_t)a[1], a[2], a[3]);
    if (nr == SYS_fsync || nr == SYS_fdatasync)
        return put_rec('S', 0, 0, 0);
    return put_rec('X', 0, 0, 0);
}

/* Calls that change the file or its durability.  Not sync_file_range: it
 * only starts writeback (a hint that changes neither), and vmkit's
 * writeback helper thread (util/writeback.c) makes it on a timer, which
 * would make the count differ from run to run. */
static const long counted[] = {
    SYS_pwrite64, SYS_pwritev, SYS_pwritev2, SYS_write, SYS_writev, SYS_fallocate,
    SYS_ftruncate, SYS_fdatasync, SYS_fsync, SYS_copy_file_range,
};
#define NCOUNTED (sizeof counted / sizeof *counted)

/* In the child, before exec: trace the counted calls, allow the rest. */
static int install_filter(void)
{
    struct sock_filter f[4 + NCOUNTED + 2];
    size_t n = 0;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (size_t i = 0; i < NCOUNTED; i++)   /* match: jump to the TRACE return */
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)counted[i],
                                              (unsigned char)(NCOUNTED - i), 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    struct sock_fprog prog = { .len = (unsigned short)n, .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "-r")) {
        if (!(rec = fopen(argv[2], "wb"))) {
            fprintf(stderr, "crashpoint: %s: %s\n", argv[2], strerror(errno));
            return 125;
        }
        argv += 2;
        argc -= 2;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: crashpoint [-r LOG] N FILE CMD [ARG...]\n");
        return 125;
    }
    char *end;
    unsigned long long kill_at = strtoull(argv[1], &end, 10);
    struct stat st;
    if (*end || stat(argv[2], &st) < 0) {
        fprintf(stderr, "crashpoint: bad N or FILE: %s %s\n", argv[1], argv[2]);
        return 125;
    }
    want_dev = st.st_dev;
    want_ino = st.st_ino;
    if (rec && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "crashpoint: -r needs a regular FILE: %s\n", argv[2]);
        return 125;
    }
    if (S_ISDIR(st.st_mode) && !(want_dir = realpath(argv[2], NULL))) {
        fprintf(stderr, "crashpoint: %s: %s\n", argv[2], strerror(errno));
        return 125;
    }
    pid_t pid = fork();
    if (pid < 0)
        return 125;
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        if (install_filter() < 0) {
            fprintf(stderr, "crashpoint: seccomp: %s\n", strerror(errno));
            _exit(125);
        }
        execvp(argv[3], argv + 3);
        fprintf(stderr, "crashpoint: %s: %s\n", argv[3], strerror(errno));
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status))
        return 125;
    /* Children inherit the seccomp filter, and a traced call with no
     * tracer fails: follow them too (their calls count when they write
     * the file, which an editor on a temporary copy does not). */
    ptrace(PTRACE_SETOPTIONS, pid, 0,
           PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC |
           PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE);
    unsigned long long n = 0;
    int killed = 0, main_status = 0, rec_failed = 0;
    ptrace(PTRACE_CONT, pid, 0, 0);
    for (;;) {
        pid_t w = waitpid(-1, &status, __WALL);
        if (w < 0)
            break;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (w == pid) {
                main_status = status;
                break;
            }
            continue;
        }
        if (!WIFSTOPPED(status))
            continue;
        int sig = 0;
        if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
            /* A counted call, about to run. */
            struct __ptrace_syscall_info si;
            int mine = ptrace(PTRACE_GET_SYSCALL_INFO, w, sizeof si, &si) > 0 &&
                       si.op == PTRACE_SYSCALL_INFO_SECCOMP &&
                       is_target(w, (long)si.seccomp.args[0]);
            if (mine && ++n != kill_at && rec && record(w, &si) < 0) {
                fprintf(stderr, "crashpoint: cannot record write %llu\n", n);
                kill(pid, SIGKILL);
                rec_failed = 1;
            } else if (mine && n == kill_at) {
                kill(pid, SIGKILL);
                killed = 1;
                /* Reap every traced thread and child: the leader's end is
                 * reported only after its other threads are reaped, and
                 * they are ours to reap (waiting for the leader alone
                 * would wait for ever on a writer with threads). */
                pid_t g;
                while ((g = waitpid(-1, &status, __WALL)) >= 0 &&
                       !(g == pid && (WIFEXITED(status) || WIFSIGNALED(status))))
                    ;   /* other processes stay stopped: EXITKILL ends them */
                break;
            }
        } else if (WSTOPSIG(status) != SIGTRAP && WSTOPSIG(status) != SIGSTOP) {
            /* A real signal: pass it on.  Fork/exec events and a new
             * child's first stop continue silently. */
            sig = WSTOPSIG(status);
        }
        ptrace(PTRACE_CONT, w, 0, sig);
    }
    status = main_status;
    if (rec && (fclose(rec) != 0 || rec_failed)) {
        fprintf(stderr, "crashpoint: the record is incomplete\n");
        return 125;
    }
    if (killed) {
        fprintf(stderr, "crashpoint: %llu writes\ncrashpoint: killed before write %llu\n",
                n - 1, kill_at);
        return 137;
    }
    fprintf(stderr, "crashpoint: %llu writes\n", n);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 125;
}
