/* A child process whose stdout the caller reads as a stream (mmdebstrap
 * writing its tarball) while a thread drains its stderr: the lines go to
 * a callback (progress) and the last ones are kept for the message when
 * it fails.  Contract in guest_int.h. */
#include "guest/guest_int.h"

#include "util/err.h"
#include "util/run.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(sizeof(pthread_t) <= sizeof(unsigned long), "pthread_t fits the opaque field");

/* Append line to buf (a '\n'-separated list of the last lines), dropping
 * the oldest lines when it would not fit. */
static void keep_line(char *buf, size_t size, const char *line)
{
    size_t l = strlen(line), have = strlen(buf);
    if (l + 2 > size)
        line += l - (size - 2), l = size - 2;
    while (have && have + l + 2 > size) {
        char *nl = strchr(buf, '\n');
        size_t drop = nl ? (size_t)(nl - buf) + 1 : have;
        memmove(buf, buf + drop, have - drop + 1);
        have -= drop;
    }
    memcpy(buf + have, line, l);
    buf[have + l] = '\n';
    buf[have + l + 1] = '\0';
}

static void one_line(struct vk_child *c, char *line)
{
    size_t l = strlen(line);
    while (l && (line[l - 1] == '\r' || line[l - 1] == ' '))
        line[--l] = '\0';
    if (!l)
        return;
    keep_line(c->tail, sizeof c->tail, line);
    if (!strncmp(line, "E: ", 3)) {
        char s[200];
        /* a whole apt command line helps nobody: the start says enough */
        snprintf(s, sizeof s, "%.160s%s", line, l > 160 ? "..." : "");
        keep_line(c->errs, sizeof c->errs, s);
    }
    if (c->line)
        c->line(line, c->ctx);
}

static void *drain(void *arg)
{
    struct vk_child *c = arg;
    char buf[4096];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(c->err, buf + have, sizeof buf - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        char *s = buf, *nl;
        while ((nl = memchr(s, '\n', have - (size_t)(s - buf)))) {
            *nl = '\0';
            one_line(c, s);
            s = nl + 1;
        }
        have -= (size_t)(s - buf);
        memmove(buf, s, have);
        if (have == sizeof buf - 1) {   /* a line longer than the buffer */
            buf[have] = '\0';
            one_line(c, buf);
            have = 0;
        }
    }
    if (have) {
        buf[have] = '\0';
        one_line(c, buf);
    }
    return NULL;
}

/* Contract in guest_int.h. */
int vk_child_start(const char *const *argv, struct vk_child *c)
{
    char prog[4096];
    int r = vk_which(argv[0], prog, sizeof prog);
    c->pid = -1;
    c->out = c->err = -1;
    c->name = argv[0];
    c->tail[0] = c->errs[0] = '\0';
    c->thread = c->killed = false;
    if (r < 0)
        return r;
    int o[2], e[2];
    if (pipe2(o, O_CLOEXEC) < 0)
        return vk_error(-errno, "%s: pipe: %s", argv[0], strerror(errno));
    if (pipe2(e, O_CLOEXEC) < 0) {
        r = vk_error(-errno, "%s: pipe: %s", argv[0], strerror(errno));
        close(o[0]);
        close(o[1]);
        return r;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(o[1], 1) < 0 || dup2(e[1], 2) < 0)
            _exit(126);
        /* the parent may have SIGPIPE ignored; the child's tools expect it */
        signal(SIGPIPE, SIG_DFL);
        execv(prog, (char *const *)argv);
        dprintf(2, "E: %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    int fe = errno;
    close(o[1]);
    close(e[1]);
    if (pid < 0) {
        close(o[0]);
        close(e[0]);
        return vk_error(-fe, "%s: fork: %s", argv[0], strerror(fe));
    }
    c->pid = pid;
    c->out = o[0];
    c->err = e[0];
    pthread_t t;
    if ((r = pthread_create(&t, NULL, drain, c)) != 0) {
        /* no thread: the child's stderr goes unread, so stop it now */
        kill(pid, SIGTERM);
        vk_child_finish(c, true);
        return vk_error(-r, "%s: thread: %s", argv[0], strerror(r));
    }
    c->tid = (unsigned long)t;
    c->thread = true;
    return 0;
}

/* Contract in guest_int.h. */
int vk_child_finish(struct vk_child *c, bool abort)
{
    if (abort && c->pid > 0) {
        /* A child that ended its stream itself (it failed) exits on its
         * own within moments: its own status explains best.  One still
         * writing after 2 s is stopped; mmdebstrap cleans up its
         * temporary chroot on SIGTERM. */
        bool gone = false;
        for (int i = 0; i < 20 && !gone; i++) {
            siginfo_t si = { .si_pid = 0 };
            gone = waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
                   si.si_pid != 0;
            if (!gone)
                usleep(100 * 1000);
        }
        if (!gone) {
            kill(c->pid, SIGTERM);
            c->killed = true;
        }
    }
    if (c->out >= 0)
        close(c->out);
    c->out = -1;
    int st = 0;
    if (c->pid > 0)
        while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
            ;
    c->pid = -1;
    if (c->thread)
        pthread_join((pthread_t)c->tid, NULL);
    c->thread = false;
    if (c->err >= 0)
        close(c->err);
    c->err = -1;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    /* The E: lines say why; without any, the last lines. */
    char why[sizeof c->tail];
    snprintf(why, sizeof why, "%s", c->errs[0] ? c->errs : c->tail);
    size_t l = strlen(why);
    while (l && why[l - 1] == '\n')
        why[--l] = '\0';
    if (!c->errs[0]) {          /* at most the last 3 lines */
        char *p = why + l;
        for (int n = 0; p > why && n < 3; n += *--p == '\n')
            ;
        memmove(why, p + (*p == '\n'), strlen(p + (*p == '\n')) + 1);
    }
    char joined[sizeof why * 2] = "";
    for (char *save = NULL, *s = strtok_r(why, "\n", &save); s; s = strtok_r(NULL, "\n", &save))
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s",
                 *joined ? " | " : "", s);
    if (WIFSIGNALED(st))
        return vk_error(-EIO, "%s failed (signal %d)%s%s", c->name, WTERMSIG(st),
                        *joined ? ": " : "", joined);
    return vk_error(-EIO, "%s failed (exit %d)%s%s", c->name, WEXITSTATUS(st), *joined ? ": " : "",
                    joined);
}
