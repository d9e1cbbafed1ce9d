/* vmkit migrate, migrate-receive: live migration as `xl migrate`
 * (src/vm/migrate.h). */
#include "cli/cli.h"
#include "cli/opt.h"

#include "util/err.h"
#include "vm/migrate.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cmd_migrate(int argc, char **argv)
{
    bool live = false, copy = false, tls = false;
    const char *ssh = NULL, *sdir = NULL;
    long port = 0;
    const struct cli_opt opts[] = {
        OPT_STRING('s', "ssh", &ssh, "SSHCOMMAND",
                   "run SSHCOMMAND HOST vmkit migrate-receive (default: ssh; split at blanks)"),
        OPT_BOOL(0, "live", &live, "migrate while the guest runs (pre-copy)"),
        OPT_BOOL(0, "copy-storage", &copy,
                 "copy the writable disks to HOST (block mirror to an NBD export there)"),
        OPT_STRING(0, "storage-dir", &sdir, "DIR",
                   "with --copy-storage: HOST creates the copies in DIR (default: same paths)"),
        OPT_INT(0, "nbd-port", &port, "PORT",
                 "with --copy-storage: HOST serves the copies on this TCP port (default: a "
                 "unix socket, for one machine)"),
        OPT_BOOL(0, "tls", &tls, "with --copy-storage: the disk copies under TLS; this host shows the "
                 "certificate in CONFIG/tls/migrate, HOST its server certificate (vmkit tls)"),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "migrate", "[-s SSHCOMMAND] [--live] [--copy-storage [--storage-dir DIR] [--nbd-port PORT]] [--tls] NAME HOST",
        "Move the running VM NAME to HOST, as `xl migrate`: vmkit runs\n"
        "`SSHCOMMAND HOST vmkit migrate-receive` and sends the VM's config and\n"
        "QEMU's state through that pipe; HOST starts the same machine, loads the\n"
        "state, resumes the VM and defines it, and only then does the VM end\n"
        "here.  Without --live the VM is paused for the whole transfer.  The\n"
        "disks stay where they are: HOST must see them at the same paths, unless\n"
        "--copy-storage copies every writable disk image to HOST first (as new\n"
        "files of the same format and size, at the same paths or in --storage-dir\n"
        "DIR there) while the guest runs on.  If anything fails, or HOST already\n"
        "has a VM of that name, the VM runs on here and HOST removes what it made.\n"
        "With --tls the disk copies go over TLS: HOST takes only a certificate of\n"
        "its CA (`vmkit tls issue-client NAME --qemu-dir DIR` there, DIR copied\n"
        "here as CONFIG/tls/migrate) and this side checks HOST's (the state itself\n"
        "travels inside SSHCOMMAND, which ssh encrypts).\n"
        "Prints QEMU's measured downtime and how long the guest was stopped in all\n"
        "(until it ran on HOST).", 2, 2 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    if ((sdir || port || tls) && !copy)
        return cli_usage("migrate", "--storage-dir, --nbd-port and --tls go with --copy-storage");
    if (port < 0 || port > 65535)
        return cli_usage("migrate", "--nbd-port: %ld is not a TCP port", port);
    /* it travels as a word of the ssh command line: a remote shell reads it */
    if (sdir && (!*sdir || sdir[strspn(sdir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789/._+-")]))
        return cli_usage("migrate", "--storage-dir: only letters, digits and / . _ + - please");
    if (sdir && sdir[0] != '/')
        return cli_usage("migrate", "--storage-dir: an absolute path on HOST, please");
    signal(SIGPIPE, SIG_IGN);   /* a receiver that dies is an error, not our end */
    struct vk_migrate_stats st;
    if ((r = vk_vm_migrate(a.v[0], ssh, a.v[1],
                           (live ? VK_MIGRATE_LIVE : 0) | (copy ? VK_MIGRATE_COPY : 0) |
                           (tls ? VK_MIGRATE_TLS : 0), sdir, (int)port, &st)) < 0)
        return cli_fail(r);
    printf("Migrated %s%s to %s%s: %.1f MiB of state in %.2f s, downtime %lld ms (QEMU), guest "
           "stopped %lld ms in all\n", a.v[0], copy ? " and its disks" : "", a.v[1], live ? " live" : "",
           st.stream_bytes / 1048576.0, st.ms / 1000.0, st.downtime_ms, st.stopped_ms);
    return EXIT_OK;
}

int cmd_migrate_receive(int argc, char **argv)
{
    const char *sdir = NULL;
    long port = 0;
    bool tls = false;
    const struct cli_opt opts[] = {
        OPT_STRING(0, "storage-dir", &sdir, "DIR",
                   "create the copies of migrated disks (--copy-storage) in DIR"),
        OPT_INT(0, "nbd-port", &port, "PORT",
                 "serve them to the sender on this TCP port (default: a unix socket)"),
        OPT_BOOL(0, "tls", &tls, "serve the copies only over TLS, to a certificate of this "
                 "host's CA"),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "migrate-receive", "[--storage-dir DIR] [--nbd-port PORT] [--tls]",
        "The receiving end of `vmkit migrate` (run by it over ssh): reads the VM\n"
        "and its state on stdin, answers on stdout.  Not for people.", 0, 0 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    signal(SIGPIPE, SIG_IGN);
    char name[80] = "";
    if ((r = vk_vm_migrate_receive(STDIN_FILENO, STDOUT_FILENO, sdir,
                                   port > 0 && port < 65536 ? (int)port : 0, tls, name, sizeof name)) < 0)
        return cli_fail(r);
    return EXIT_OK;
}
