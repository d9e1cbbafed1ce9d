/* vmkit --version (with QEMU's and the linked libraries' versions) and
 * vmkit doctor: what this host can do, and for each thing it cannot, the
 * fix. */
#include "cli/cli.h"

#include "util/run.h"
#include "vm/qemu_args.h"

#include <archive.h>
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <sched.h>
#include <stdarg.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* The first line QEMU prints for --version ("QEMU emulator version 7.2.11
 * (Debian ...)"), or why there is none, into buf. */
static int qemu_version(char *path, size_t plen, char *buf, size_t len)
{
    int r = vk_qemu_find("qemu-system-x86_64", path, plen);
    if (r < 0) {
        snprintf(buf, len, "not found in PATH");
        return r;
    }
    char *out = NULL;
    int st;
    r = vk_run_capture((const char *[]){ path, "--version", NULL }, NULL, &st, &out);
    if (r < 0 || st != 0 || !out) {
        snprintf(buf, len, "%s --version failed", path);
        free(out);
        return r < 0 ? r : -EIO;
    }
    snprintf(buf, len, "%.*s", (int)strcspn(out, "\n"), out);
    free(out);
    return 0;
}

/* `vmkit --version`. */
int cli_version(void)
{
    char path[4096], q[256];
    const char *e2ver = "?";
    const struct scmp_version *sv = seccomp_version();
    qemu_version(path, sizeof path, q, sizeof q);
    ext2fs_get_library_version(&e2ver, NULL);
    printf("vmkit %s\n", VMKIT_VERSION);
    printf("qemu: %s\n", q);
    printf("libext2fs %s\n%s\nlibzstd %s\nzlib %s\njansson %s\n%s\nlibseccomp %u.%u.%u\n",
           e2ver, archive_version_string(), ZSTD_versionString(), zlibVersion(),
           jansson_version_str(), OpenSSL_version(OPENSSL_VERSION),
           sv ? sv->major : 0, sv ? sv->minor : 0, sv ? sv->micro : 0);
    return EXIT_OK;
}

/* ---- doctor ---- */

enum { OK, WARN, FAIL };

static void line(int level, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void line(int level, const char *what, const char *fmt, ...)
{
    static const char *const tag[] = { "ok  ", "warn", "FAIL" };
    va_list ap;
    va_start(ap, fmt);
    printf("%s %-12s ", tag[level], what);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

/* Can this user make a user namespace?  Tried in a child, which exits. */
static int userns_ok(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        _exit(unshare(CLONE_NEWUSER) < 0 ? errno : 0);
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -errno;
    return WIFEXITED(st) ? -WEXITSTATUS(st) : -EINTR;
}

/* Is tool in PATH, or in /usr/sbin or /sbin (where util/run.h looks too)? */
static bool have_tool(const char *tool)
{
    const char *p = getenv("PATH");
    char dirs[8192], file[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/sbin", p ? p : "/usr/bin:/bin");
    for (char *save, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(file, sizeof file, "%s/%s", *d ? d : ".", tool);
        if (access(file, X_OK) == 0)
            return true;
    }
    return false;
}

static void check_accel(void)
{
    const char *accel;
    char why[256];
    if (vk_accel_choose(NULL, &accel, why, sizeof why) < 0) {
        line(WARN, "kvm", "cannot tell: %s", why);
    } else if (!strcmp(accel, "kvm")) {
        line(OK, "kvm", "KVM usable (%s)", why + 5);
    } else {
        line(WARN, "kvm", "TCG only, VMs run emulated and slowly (%s); fix: enable "
             "virtualization in the firmware, modprobe kvm_intel (or kvm_amd), and give "
             "this user read-write access to /dev/kvm (adduser $USER kvm)", why + 5);
    }
}

static void check_bridge(void)
{
    const char *helper = "/usr/lib/qemu/qemu-bridge-helper";
    struct stat st;
    if (stat(helper, &st) < 0) {
        line(WARN, "bridge", "%s: %s: vif = ['bridge=BR'] will not work; fix: apt-get install "
             "qemu-system-common", helper, strerror(errno));
        return;
    }
    if (geteuid() != 0 && !((st.st_mode & S_ISUID) && st.st_uid == 0)) {
        line(WARN, "bridge", "%s is not setuid root: vif = ['bridge=BR'] fails for this user; "
             "fix: dpkg-statoverride --update --add root root 4755 %s", helper, helper);
        return;
    }
    FILE *f = fopen("/etc/qemu/bridge.conf", "r");
    char buf[256];
    bool allow = false;
    while (f && fgets(buf, sizeof buf, f))
        allow |= !strncmp(buf, "allow ", 6);
    if (f)
        fclose(f);
    if (!allow)
        line(WARN, "bridge", "/etc/qemu/bridge.conf allows no bridge: vif = ['bridge=BR'] is "
             "refused by the helper; fix: echo 'allow br0' >>/etc/qemu/bridge.conf");
    else
        line(OK, "bridge", "%s may attach VMs to the bridges /etc/qemu/bridge.conf allows", helper);
}

static void check_fuse(void)
{
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        line(WARN, "fuse", "/dev/fuse: %s; fix: modprobe fuse, and apt-get install fuse3 "
             "(which makes /dev/fuse usable by every user)", strerror(errno));
    else
        line(OK, "fuse", "/dev/fuse usable");
    if (fd >= 0)
        close(fd);
}

static void check_userns(void)
{
    int r = userns_ok();
    if (r < 0)
        line(WARN, "userns", "user namespaces unavailable (%s): vmkit guest build cannot run "
             "the package tools as a fake root; fix: sysctl -w kernel.unprivileged_userns_clone=1 "
             "user.max_user_namespaces=15000", strerror(-r));
    else
        line(OK, "userns", "user namespaces available (vmkit guest build)");
}

static void check_tools(void)
{
    static const struct { const char *tool, *pkg, *used; } tools[] = {
        { "e2fsck", "e2fsprogs", "fs check on ext" },
        { "resize2fs", "e2fsprogs", "fs resize on ext" },
        { "fsck.fat", "dosfstools", "fs check on FAT" },
        { "apt-get", "apt", "guest build" },
        { "dpkg-deb", "dpkg", "guest build" },
    };
    int missing = 0;
    for (size_t i = 0; i < sizeof tools / sizeof *tools; i++)
        if (!have_tool(tools[i].tool)) {
            line(WARN, "tools", "%s not found (vmkit %s); fix: apt-get install %s", tools[i].tool,
                 tools[i].used, tools[i].pkg);
            missing++;
        }
    if (!missing)
        line(OK, "tools", "e2fsck, resize2fs, fsck.fat, apt-get and dpkg-deb found");
}

/* `vmkit doctor`: one line per capability; exit 1 when vmkit cannot run
 * VMs at all (no QEMU). */
int cmd_doctor(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: vmkit doctor\n\nSay what this host can do: QEMU, KVM or TCG only, the "
               "bridge helper,\n/dev/fuse, user namespaces, external tools.  Each line that is "
               "not ok\nnames the fix.  Exit 1 when QEMU is missing.\n");
        return EXIT_OK;
    }
    if (argc > 1)
        return cli_usage("doctor", "doctor takes no arguments");
    char path[4096], q[256];
    int qr = qemu_version(path, sizeof path, q, sizeof q);
    if (qr < 0)
        line(FAIL, "qemu", "qemu-system-x86_64: %s: vmkit cannot run VMs; fix: apt-get install "
             "qemu-system-x86 (or put it in PATH)", q);
    else
        line(OK, "qemu", "%s (%s)", path, q);
    check_accel();
    check_bridge();
    check_fuse();
    check_userns();
    check_tools();
    return qr < 0 ? EXIT_FAIL : EXIT_OK;
}
