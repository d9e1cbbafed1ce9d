/* The sandboxed child for parsers of guest-controlled disks (contract in
 * sandbox.h).  The parent only reads the pipe and the wait status; the
 * child never returns into the caller's code: it ends with _exit so that
 * an embedding program's atexit handlers and stdio buffers stay the
 * parent's. */
#include "util/sandbox.h"

#include "util/err.h"
#include "util/vec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TAG_REPLY   0x52504c59u   /* "RPLY": rc, message, answer */
#define TAG_SYSCALL 0x53595343u   /* "SYSC": the system call that was refused */
#define REPLY_MAX   (16u << 20)   /* the parent reads at most this much */

/* ---- the answer buffer ---- */

static void put(struct vk_sbuf *b, const void *p, size_t n)
{
    if (b->bad || n == 0)
        return;
    void *nv = vk_grow(b->p, &b->cap, b->len + n, 1, 256);
    if (!nv) {
        b->bad = true;
        return;
    }
    b->p = nv;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void vk_sbuf_put_u32(struct vk_sbuf *b, uint32_t v)
{
    put(b, &v, sizeof v);
}

void vk_sbuf_put_str(struct vk_sbuf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= UINT32_MAX) {
        b->bad = true;
        return;
    }
    vk_sbuf_put_u32(b, s ? (uint32_t)n : UINT32_MAX);
    put(b, s, n);
}

uint32_t vk_sbuf_get_u32(struct vk_sbuf *b)
{
    uint32_t v = 0;
    if (b->bad || b->len - b->pos < sizeof v) {
        b->bad = true;
        return 0;
    }
    memcpy(&v, b->p + b->pos, sizeof v);
    b->pos += sizeof v;
    return v;
}

char *vk_sbuf_get_str(struct vk_sbuf *b)
{
    uint32_t n = vk_sbuf_get_u32(b);
    if (b->bad || n == UINT32_MAX)
        return NULL;
    if (b->len - b->pos < n) {
        b->bad = true;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        b->bad = true;
        return NULL;
    }
    memcpy(s, b->p + b->pos, n);
    s[n] = 0;
    b->pos += n;
    return s;
}

void vk_sbuf_free(struct vk_sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- the child ---- */

/* The answer pipe, for the SIGSYS handler: set only in the forked child,
 * which has a single thread. */
static int sigsys_fd = -1;

/* A refused system call: tell the parent which, then die by SIGSYS through
 * kill(), which the filter turns into a process kill. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    uint32_t rec[2] = { TAG_SYSCALL, (uint32_t)si->si_syscall };
    ssize_t n = write(sigsys_fd, rec, sizeof rec);
    (void)n;
    syscall(SYS_kill, 0, 0);
    _exit(127);   /* not reached */
}

/* Move fd out of 0..2 (which become /dev/null); -1 on failure. */
static int lift(int fd)
{
    return fd > 2 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static bool kept(int fd, const int *keep, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (keep[i] == fd)
            return true;
    return false;
}

/* Close every descriptor above 2 that is not in keep. */
static int close_others(const int *keep, size_t n)
{
    int lo = 3;
    for (;;) {
        int next = -1;   /* the smallest kept fd >= lo */
        for (size_t i = 0; i < n; i++)
            if (keep[i] >= lo && (next < 0 || keep[i] < next))
                next = keep[i];
        unsigned hi = next < 0 ? ~0u : (unsigned)next - 1;
        if (next != lo && close_range((unsigned)lo, hi, 0) < 0)
            break;
        if (next < 0)
            return 0;
        lo = next + 1;
    }
    /* no close_range (Linux < 5.9): walk /proc/self/fd */
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -errno;
    int dfd = dirfd(d);
    for (struct dirent *e; (e = readdir(d));) {
        int fd = atoi(e->d_name);
        if (fd > 2 && fd != dfd && !kept(fd, keep, n))
            close(fd);
    }
    closedir(d);
    return 0;
}

/* Bytes of address space the process maps now (/proc/self/statm). */
static uint64_t mapped_now(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long long pages = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%llu", &pages) != 1)
        pages = 0;
    fclose(f);
    return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The child's limits and test hooks. */
struct limits {
    uint64_t mem, fsize;
    unsigned cpu, wall;
    bool open, execve, spin, hang;
};

/* sb's limits, lowered by VMKIT_SANDBOX_TEST, whose hooks break the child. */
static void get_limits(const struct vk_sandbox *sb, struct limits *h)
{
    memset(h, 0, sizeof *h);
    h->mem = sb->mem ? sb->mem : VK_SANDBOX_MEM;
    h->fsize = sb->fsize ? sb->fsize : VK_SANDBOX_FSIZE;
    h->cpu = sb->cpu ? sb->cpu : VK_SANDBOX_CPU;
    h->wall = sb->wall ? sb->wall : VK_SANDBOX_WALL;
    const char *env = getenv("VMKIT_SANDBOX_TEST");
    if (!env)
        return;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", env);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        unsigned long long v = 0;
        if (!strcmp(t, "open"))
            h->open = true;
        else if (!strcmp(t, "execve"))
            h->execve = true;
        else if (!strcmp(t, "spin"))
            h->spin = true;
        else if (!strcmp(t, "hang"))
            h->hang = true;
        else if (sscanf(t, "cpu=%llu", &v) == 1 && v > 0 && v < h->cpu)
            h->cpu = (unsigned)v;
        else if (sscanf(t, "wall=%llu", &v) == 1 && v > 0 && v < h->wall)
            h->wall = (unsigned)v;
        else if (sscanf(t, "mem=%llu", &v) == 1 && v < h->mem)
            h->mem = v;
        else if (sscanf(t, "fsize=%llu", &v) == 1 && v < h->fsize)
            h->fsize = v;
    }
}

static int limit(int res, uint64_t v)
{
    struct rlimit rl = { .rlim_cur = v, .rlim_max = v };
    if (res == RLIMIT_CPU)
        rl.rlim_max = v + 1;   /* SIGXCPU first, SIGKILL a second later */
    return setrlimit(res, &rl) < 0 ? -errno : 0;
}

/* System calls the child may make: I/O on descriptors it holds, memory,
 * time, signals, exit.  Everything else traps (SIGSYS, on_sigsys). */
static const char *const allowed[] = {
    "read", "pread64", "readv", "preadv", "preadv2",
    "write", "pwrite64", "writev", "pwritev", "pwritev2",
    "lseek", "_llseek", "fstat", "fstat64", "ftruncate", "ftruncate64", "close",
    "brk", "munmap", "mremap", "madvise",
    "futex", "sched_yield", "getpid", "gettid", "sigaltstack",
    "clock_gettime", "clock_gettime64", "gettimeofday", "time",
    "rt_sigreturn", "sigreturn", "rt_sigprocmask",
    "exit", "exit_group",
    NULL,
};

static int load_filter(void)
{
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_TRAP);
    if (!f)
        return -ENOMEM;
    int r = seccomp_attr_set(f, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    for (const char *const *n = allowed; *n && r == 0; n++) {
        int nr = seccomp_syscall_resolve_name(*n);
        if (nr != __NR_SCMP_ERROR)
            r = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
    }
    /* fstat() is newfstatat(fd, "", st, AT_EMPTY_PATH) in recent glibc:
     * allow only that form, never a path lookup.  Memory may be mapped
     * and protected, but never executable. */
    if (r == 0)
        r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
                             SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
    if (r == 0)
        r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    if (r == 0)
        r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    /* isatty() (the sanitizers' reports ask), never another ioctl */
    if (r == 0)
        r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                             SCMP_A1(SCMP_CMP_EQ, TCGETS, 0));
    /* on_sigsys's way out */
    if (r == 0)
        r = seccomp_rule_add(f, SCMP_ACT_KILL_PROCESS, SCMP_SYS(kill), 0);
    if (r == 0)
        r = seccomp_load(f);
    seccomp_release(f);
    return r;
}

/* Write all of buf to fd (the answer pipe). */
static int write_all(int fd, const void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, (const char *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* Set up the sandbox step by step; a failure before run is an answer too. */
static int enter(const struct vk_sandbox *sb, void *ctx, int *pfd, const struct limits *h)
{
    struct sigaction sa = { .sa_handler = SIG_IGN };
    sigaction(SIGPIPE, &sa, NULL);   /* EPIPE, not death, if the parent went away */
    sigaction(SIGXFSZ, &sa, NULL);   /* EFBIG from write, with a message */
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
    sigset_t all;
    sigemptyset(&all);
    sigaddset(&all, SIGSYS);
    sigprocmask(SIG_UNBLOCK, &all, NULL);

    for (size_t i = 0; i < sb->n_keep; i++)
        if ((sb->keep[i] = lift(sb->keep[i])) < 0)
            return vk_error(-errno, "%s: %s: %s", sb->name, sb->what, strerror(errno));
    if ((*pfd = lift(*pfd)) < 0)
        return -errno;
    sigsys_fd = *pfd;
    int *keep = malloc((sb->n_keep + 1) * sizeof *keep);
    if (!keep)
        return vk_error(-ENOMEM, "%s: out of memory", sb->name);
    memcpy(keep, sb->keep, sb->n_keep * sizeof *keep);
    keep[sb->n_keep] = *pfd;
    int r = close_others(keep, sb->n_keep + 1);
    free(keep);
    if (r < 0)
        return vk_error(r, "%s: %s: closing descriptors: %s", sb->name, sb->what, strerror(-r));
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
        return vk_error(-errno, "/dev/null: %s", strerror(errno));
    if (null > 2)
        close(null);

    /* localtime() and mktime() (FAT timestamps) re-check /etc/localtime
     * on every call when TZ is unset; with TZ set they keep what tzset()
     * loaded here, so no stat() or open() under the filter. */
    if (!getenv("TZ"))
        setenv("TZ", ":/etc/localtime", 1);
    tzset();
    uint64_t now = mapped_now();
    if ((r = limit(RLIMIT_CORE, 0)) < 0 || (r = limit(RLIMIT_NPROC, 0)) < 0 ||
        (r = limit(RLIMIT_CPU, h->cpu)) < 0 || (r = limit(RLIMIT_FSIZE, h->fsize)) < 0 ||
        (now && (r = limit(RLIMIT_AS, now + h->mem)) < 0))
        return vk_error(r, "%s: %s: setrlimit: %s", sb->name, sb->what, strerror(-r));
    if (sb->prepare && (r = sb->prepare(ctx)) < 0)
        return r;
    if ((r = limit(RLIMIT_NOFILE, 0)) < 0)
        return vk_error(r, "%s: %s: setrlimit: %s", sb->name, sb->what, strerror(-r));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return vk_error(-errno, "%s: %s: prctl: %s", sb->name, sb->what, strerror(errno));
    if ((r = load_filter()) < 0)
        return vk_error(r, "%s: %s: loading the seccomp filter: %s", sb->name, sb->what,
                        strerror(-r));
    if (h->open)
        open("/etc/passwd", O_RDONLY);
    if (h->execve)
        execl("/bin/sh", "sh", "-c", "true", (char *)NULL);
    for (volatile unsigned long spins = 0; h->spin; spins++)
        continue;
    int never = 0;
    while (h->hang)     /* asleep, using no CPU time: only the parent's clock ends it */
        syscall(SYS_futex, &never, FUTEX_WAIT, 0, NULL, NULL, 0);
    return 0;
}

static void child(const struct vk_sandbox *sb, void *ctx, int pfd, const struct limits *lim)
{
    vk_error_clear();
    struct vk_sbuf out = { 0 }, ans = { 0 };
    int r = enter(sb, ctx, &pfd, lim);
    if (r == 0)
        r = sb->run(ctx, &ans);
    if (ans.bad && r >= 0)
        r = vk_error(-ENOMEM, "%s: out of memory", sb->name);
    vk_sbuf_put_u32(&out, TAG_REPLY);
    vk_sbuf_put_u32(&out, (uint32_t)r);
    vk_sbuf_put_str(&out, r < 0 ? vk_errmsg_for(r) : "");
    if (r >= 0)
        put(&out, ans.p, ans.len);
    if (!out.bad)
        write_all(pfd, out.p, out.len);
    _exit(out.bad ? 1 : 0);
}

/* ---- the parent ---- */

/* Read the child's answer until EOF (at most REPLY_MAX bytes), for at
 * most ms milliseconds of wall-clock time (-ETIME after that). */
static int read_answer(int fd, struct vk_sbuf *b, long long ms)
{
    uint8_t buf[65536];
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long long left = ms - ((t.tv_sec - t0.tv_sec) * 1000LL +
                               (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return -ETIME;
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        int k = poll(&pf, 1, left > 60000 ? 60000 : (int)left);
        if (k < 0 && errno != EINTR)
            return -errno;
        if (k <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        if (b->len + (size_t)n > REPLY_MAX)
            return -EFBIG;
        put(b, buf, (size_t)n);
        if (b->bad)
            return -ENOMEM;
    }
}

/* What to say about a child that gave no answer. */
static int explain(const struct vk_sandbox *sb, int status, struct vk_sbuf *b,
                   const struct limits *lim)
{
    b->pos = 0;
    if (vk_sbuf_get_u32(b) == TAG_SYSCALL) {
        int nr = (int)vk_sbuf_get_u32(b);
        char *name = b->bad ? NULL : seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        int r = vk_error(-EPERM, "%s: %s killed by the sandbox (system call %d%s%s)", sb->name,
                         sb->what, nr, name ? ", " : "", name ? name : "");
        free(name);
        return r;
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGSYS)
            return vk_error(-EPERM, "%s: %s killed by the sandbox (system call unknown)",
                            sb->name, sb->what);
        if (sig == SIGXCPU)
            return vk_error(-ETIMEDOUT, "%s: %s exceeded its CPU time limit (%u s)", sb->name,
                            sb->what, lim->cpu);
        if (sig == SIGKILL)
            return vk_error(-ETIMEDOUT, "%s: %s killed (SIGKILL: its CPU time limit of %u s, "
                            "or the kernel's out-of-memory killer)", sb->name, sb->what,
                            lim->cpu);
        return vk_error(-EIO, "%s: %s crashed (signal %d, %s)", sb->name, sb->what, sig,
                        strsignal(sig));
    }
    return vk_error(-EIO, "%s: %s died without an answer (exit status %d)", sb->name, sb->what,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Contract in sandbox.h. */
int vk_sandbox_run(const struct vk_sandbox *sb, void *ctx, struct vk_sbuf *reply)
{
    memset(reply, 0, sizeof *reply);
    struct limits lim;
    get_limits(sb, &lim);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return vk_error(-errno, "%s: pipe: %s", sb->name, strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child(sb, ctx, p[1], &lim);
    }
    int err = pid < 0 ? -errno : 0;
    close(p[1]);
    if (err) {
        close(p[0]);
        return vk_error(err, "%s: fork: %s", sb->name, strerror(-err));
    }
    struct vk_sbuf b = { 0 };
    /* a child asleep uses no CPU time: the wall clock bounds it too */
    int rr = read_answer(p[0], &b, lim.wall * 1000LL);
    close(p[0]);
    if (rr < 0)
        kill(pid, SIGKILL);   /* too slow, or it said too much: nothing it says counts */
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        continue;
    if (rr == -ETIME)
        err = vk_error(-ETIMEDOUT, "%s: %s did not finish within %u s", sb->name, sb->what,
                       lim.wall);
    else if (rr < 0)
        err = vk_error(-EIO, "%s: %s: unreadable answer (%s)", sb->name, sb->what,
                       strerror(-rr));
    else
        err = vk_sandbox_answer(sb, status, b.p, b.len, reply);
    vk_sbuf_free(&b);
    return err;
}

/* Contract in sandbox.h. */
int vk_sandbox_answer(const struct vk_sandbox *sb, int status, const void *buf, size_t len,
                      struct vk_sbuf *reply)
{
    memset(reply, 0, sizeof *reply);
    struct limits lim;
    get_limits(sb, &lim);
    struct vk_sbuf b = { .p = (uint8_t *)buf, .len = len };   /* only read */
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || vk_sbuf_get_u32(&b) != TAG_REPLY)
        return explain(sb, status, &b, &lim);
    int r = (int)vk_sbuf_get_u32(&b);
    char *msg = vk_sbuf_get_str(&b);
    if (b.bad || r < -4095) {
        free(msg);
        return vk_error(-EIO, "%s: %s: malformed answer", sb->name, sb->what);
    }
    if (r < 0) {
        vk_error(r, "%s", msg && *msg ? msg : strerror(-r));
        free(msg);
        return r;
    }
    free(msg);
    /* the rest is run()'s answer */
    put(reply, b.p + b.pos, b.len - b.pos);
    if (reply->bad) {
        vk_sbuf_free(reply);
        return vk_error(-ENOMEM, "%s: out of memory", sb->name);
    }
    return r;
}
