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
 * Prints on stderr, as its last line, "crashpoint: W writes" (W counted
 * before the kill) and, if it killed, "crashpoint: killed before write N".
 * Exit status: 137 if it killed the command at N; otherwise the
 * command's own (128+signal if a signal ended it); 125 on setup errors.
 * Children the command forks (an $EDITOR) run untraced and uncounted. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static dev_t want_dev;
static ino_t want_ino;

/* Does descriptor fd of process pid refer to FILE? */
static int is_target(pid_t pid, long fd)
{
    char p[64];
    struct stat st;
    snprintf(p, sizeof p, "/proc/%d/fd/%ld", (int)pid, fd);
    return stat(p, &st) == 0 && st.st_dev == want_dev && st.st_ino == want_ino;
}

static int counts(long nr)
{
    switch (nr) {
    case SYS_pwrite64: case SYS_pwritev: case SYS_pwritev2: case SYS_write: case SYS_writev:
    case SYS_fallocate: case SYS_ftruncate: case SYS_fdatasync: case SYS_fsync:
    case SYS_sync_file_range: case SYS_copy_file_range:
        return 1;
    default:
        return 0;
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: crashpoint N FILE CMD [ARG...]\n");
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
    pid_t pid = fork();
    if (pid < 0)
        return 125;
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execvp(argv[3], argv + 3);
        fprintf(stderr, "crashpoint: %s: %s\n", argv[3], strerror(errno));
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status))
        return 125;
    ptrace(PTRACE_SETOPTIONS, pid, 0,
           PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC);
    unsigned long long n = 0;
    int killed = 0, sig = 0;
    for (;;) {
        if (ptrace(PTRACE_SYSCALL, pid, 0, sig) < 0)
            break;
        sig = 0;
        if (waitpid(pid, &status, 0) < 0)
            break;
        if (WIFEXITED(status) || WIFSIGNALED(status))
            break;
        if (!WIFSTOPPED(status))
            continue;
        if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
            /* A real signal (or the exec stop): pass signals on. */
            if (WSTOPSIG(status) != SIGTRAP)
                sig = WSTOPSIG(status);
            continue;
        }
        struct __ptrace_syscall_info si;
        if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof si, &si) <= 0 ||
            si.op != PTRACE_SYSCALL_INFO_ENTRY || !counts((long)si.entry.nr))
            continue;
        if (!is_target(pid, (long)si.entry.args[0]))
            continue;
        if (++n == kill_at) {
            kill(pid, SIGKILL);
            killed = 1;
            waitpid(pid, &status, 0);
            break;
        }
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
