/* vkatexit: an embedding program's atexit handler must run in that
 * program only, never in the monitor process the library forks for a VM.
 *
 *   vkatexit CFG MARKFILE ok     start the VM, destroy it, wait until its
 *                                monitor process is gone, exit 0
 *   vkatexit CFG MARKFILE fail   start with a 1 ms QMP timeout: the monitor
 *                                gives up, reports, and ends; exit 0 when
 *                                the start failed as it should
 *
 * The handler appends "atexit PID" to MARKFILE; the test expects exactly
 * one line, with this program's PID (printed on stdout).  Before the fix,
 * a monitor ending with exit() added a second line with its own PID. */
#include "util/err.h"
#include "vm/config.h"
#include "vm/control.h"
#include "vm/monitor.h"
#include "vm/store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *mark;

static void handler(void)
{
    char line[64];
    int n = snprintf(line, sizeof line, "atexit %d\n", (int)getpid());
    int fd = open(mark, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (write(fd, line, (size_t)n) < 0)
            perror(mark);
        close(fd);
    }
}

/* Has process pid ended (gone, or a zombie nobody reaped yet)? */
static int ended(pid_t pid)
{
    char p[64], st[512];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return 1;
    size_t n = fread(st, 1, sizeof st - 1, f);
    fclose(f);
    st[n] = 0;
    char *rp = strrchr(st, ')');
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: vkatexit CFG MARKFILE ok|fail\n");
        return 2;
    }
    /* absolute: the monitor chdir()s to / */
    static char abs[4096];
    if (argv[2][0] != '/' && getcwd(abs, sizeof abs - 1 - strlen(argv[2]) - 1)) {
        strcat(abs, "/");
        strcat(abs, argv[2]);
        mark = abs;
    } else {
        mark = argv[2];
    }
    atexit(handler);
    printf("%d\n", (int)getpid());
    struct vk_domcfg c;
    if (vk_domcfg_load(argv[1], &c) < 0) {
        fprintf(stderr, "vkatexit: %s\n", vk_errmsg());
        return 1;
    }
    int fail = !strcmp(argv[3], "fail");
    struct vk_start_opts o = { .timeout_ms = fail ? 1 : 0 };
    int r = vk_vm_start(&c, &o);
    if (fail) {
        if (r == 0) {
            fprintf(stderr, "vkatexit: the start should have timed out\n");
            vk_vm_destroy(c.name);
        }
        vk_domcfg_free(&c);
        return r == 0;
    }
    if (r < 0) {
        fprintf(stderr, "vkatexit: start: %s\n", vk_errmsg());
        vk_domcfg_free(&c);
        return 1;
    }
    char base[4096], pf[4200];
    long mon = 0;
    if (vk_runtime_base(base, sizeof base, 0) == 0) {
        snprintf(pf, sizeof pf, "%s/%s/monitor.pid", base, c.name);
        FILE *f = fopen(pf, "re");
        if (f) {
            if (fscanf(f, "%ld", &mon) != 1)
                mon = 0;
            fclose(f);
        }
    }
    r = vk_vm_destroy(c.name);
    vk_domcfg_free(&c);
    if (r < 0 || mon <= 0) {
        fprintf(stderr, "vkatexit: destroy: %s (monitor pid %ld)\n", r < 0 ? vk_errmsg() : "",
                mon);
        return 1;
    }
    for (int i = 0; i < 600 && !ended((pid_t)mon); i++)
        nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
    if (!ended((pid_t)mon)) {
        fprintf(stderr, "vkatexit: monitor %ld still running\n", mon);
        return 1;
    }
    return 0;
}
