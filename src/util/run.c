/* Running external tools with their output captured (util/run.h). */
#include "util/run.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: exec argv, falling back to the sbin directories. */
static void exec_tool(const char *const *argv)
{
    execvp(argv[0], (char *const *)argv);
    if (errno == ENOENT && !strchr(argv[0], '/')) {
        static const char *const dirs[] = { "/usr/sbin", "/sbin" };
        for (size_t i = 0; i < 2; i++) {
            char p[PATH_MAX];
            if ((size_t)snprintf(p, sizeof p, "%s/%s", dirs[i], argv[0]) < sizeof p)
                execv(p, (char *const *)argv);
        }
        errno = ENOENT;
    }
}

int vk_run_capture(const char *const *argv, const char *cwd, int *exit_status, char **output)
{
    int p[2];
    if (output)
        *output = NULL;
    if (pipe2(p, O_CLOEXEC) < 0)
        return vk_error(-errno, "%s: pipe: %s", argv[0], strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return vk_error(-e, "%s: fork: %s", argv[0], strerror(e));
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        if (cwd && chdir(cwd) < 0) {
            dprintf(2, "%s: %s: %s\n", argv[0], cwd, strerror(errno));
            _exit(126);
        }
        exec_tool(argv);
        dprintf(2, "%s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    char *out = NULL;
    size_t len = 0, cap = 0;
    char buf[4096];
    ssize_t n;
    int r = 0;
    while ((n = read(p[0], buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (r < 0)
            continue;   /* out of memory: keep draining so the tool can finish */
        if (len + (size_t)n + 1 > cap) {
            size_t nc = cap ? cap * 2 : 8192;
            while (nc < len + (size_t)n + 1)
                nc *= 2;
            char *no = realloc(out, nc);
            if (!no) {
                r = vk_error(-ENOMEM, "%s: out of memory", argv[0]);
                continue;
            }
            out = no;
            cap = nc;
        }
        memcpy(out + len, buf, (size_t)n);
        len += (size_t)n;
        out[len] = 0;
    }
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            free(out);
            return vk_error(-errno, "%s: waitpid: %s", argv[0], strerror(errno));
        }
    *exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r >= 0 && *exit_status == 127 && out && strstr(out, strerror(ENOENT)))
        r = vk_error(-ENOENT, "%s: not installed", argv[0]);
    if (output && r >= 0)
        *output = out;
    else
        free(out);
    return r;
}

int vk_run(const char *const *argv, const char *cwd, char *out, size_t outlen)
{
    int st;
    char *all;
    int r = vk_run_capture(argv, cwd, &st, &all);
    if (r < 0)
        return r;
    size_t len = all ? strlen(all) : 0;
    if (out && outlen) {
        size_t k = len < outlen - 1 ? len : outlen - 1;
        memcpy(out, all ? all : "", k);
        out[k] = 0;
    }
    if (st == 0) {
        free(all);
        return 0;
    }
    /* The last non-empty line says why. */
    while (len && (all[len - 1] == '\n' || all[len - 1] == '\r'))
        all[--len] = 0;
    const char *why = "";
    if (len) {
        char *nl = strrchr(all, '\n');
        why = nl ? nl + 1 : all;
    }
    if (st > 128)
        r = vk_error(-EIO, "%s failed (signal %d)%s%s", argv[0], st - 128, *why ? ": " : "", why);
    else
        r = vk_error(-EIO, "%s failed (exit %d)%s%s", argv[0], st, *why ? ": " : "", why);
    free(all);
    return r;
}

/* Contract in util/run.h. */
int vk_which(const char *name, char *buf, size_t len)
{
    if (strchr(name, '/')) {
        if (access(name, X_OK) < 0)
            return vk_error(-errno, "%s: %s", name, strerror(errno));
        if ((size_t)snprintf(buf, len, "%s", name) >= len)
            return vk_error(-ENAMETOOLONG, "%s: path too long", name);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *e = strchr(path, ':');
        size_t dl = e ? (size_t)(e - path) : strlen(path);
        if ((size_t)snprintf(buf, len, "%.*s/%s", (int)dl, dl ? path : ".", name) < len) {
            struct stat st;
            if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
                return 0;
        }
        if (!e)
            break;
        path = e + 1;
    }
    return vk_error(-ENOENT, "%s: not found in PATH", name);
}
