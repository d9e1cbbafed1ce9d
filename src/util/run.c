/* Running helper tools (apt-get, dpkg-deb, grub-mkimage) as child
 * processes with their output captured for error messages. */
#include "util/run.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Contract in util/run.h. */
int vk_run(const char *const *argv, const char *cwd, char *out, size_t outlen)
{
    int p[2];
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
        if (cwd && chdir(cwd) < 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    char buf[4096];
    size_t have = 0;
    char last[4096] = "";
    ssize_t n;
    /* keep the first outlen bytes for the caller and the tail for errors */
    while ((n = read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
        if (n < 0)
            continue;
        if (out && have + 1 < outlen) {
            size_t k = (size_t)n < outlen - 1 - have ? (size_t)n : outlen - 1 - have;
            memcpy(out + have, buf, k);
            have += k;
        }
        size_t ll = strlen(last), k = (size_t)n < sizeof last - 1 ? (size_t)n : sizeof last - 1;
        if (ll + k >= sizeof last) {
            memmove(last, last + ll + k - (sizeof last - 1), sizeof last - 1 - k);
            ll = sizeof last - 1 - k;
        }
        memcpy(last + ll, buf + n - k, k);
        last[ll + k] = '\0';
    }
    close(p[0]);
    if (out && outlen)
        out[have] = '\0';
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return vk_error(-errno, "%s: waitpid: %s", argv[0], strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    /* the last non-empty line says why */
    size_t l = strlen(last);
    while (l && (last[l - 1] == '\n' || last[l - 1] == '\r'))
        last[--l] = '\0';
    char *nl = strrchr(last, '\n');
    const char *why = nl ? nl + 1 : last;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && !*why)
        why = "not found";
    if (WIFSIGNALED(st))
        return vk_error(-EIO, "%s failed (signal %d)%s%s", argv[0], WTERMSIG(st), *why ? ": " : "", why);
    return vk_error(-EIO, "%s failed (exit %d)%s%s", argv[0], WEXITSTATUS(st), *why ? ": " : "", why);
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
