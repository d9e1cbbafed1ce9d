/* vmkit save, restore, snapshot, clone: a VM's state kept and copied
 * (xl save/restore, virsh snapshot-*, virt-clone). */
#include "cli/cli.h"
#include "cli/opt.h"

#include "util/err.h"
#include "util/progress.h"
#include "vm/clone.h"
#include "vm/save.h"
#include "vm/snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cmd_save(int argc, char **argv)
{
    bool keep = false, paused = false, compress = false;
    const struct cli_opt opts[] = {
        OPT_BOOL('c', "checkpoint", &keep, "leave the VM running afterwards (a checkpoint)"),
        OPT_BOOL('p', "paused", &paused, "leave the VM paused afterwards"),
        OPT_BOOL(0, "compress", &compress, "zstd-compress QEMU's stream (2 threads)"),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "save", "[-c] [-p] [--compress] NAME FILE",
        "Save a running VM's whole state (its config, what QEMU needs to rebuild the\n"
        "same machine, and QEMU's memory and device state) to FILE, then stop it,\n"
        "as `xl save`.  The disks are not copied: restore expects them as they are\n"
        "now.  FILE is written under a temporary name and appears only when\n"
        "complete; an existing FILE is never replaced.  `vmkit restore FILE` brings\n"
        "the VM back where it stopped.", 2, 2 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    int flags = (keep ? VK_SAVE_KEEP : 0) | (paused ? VK_SAVE_PAUSED : 0) |
                (compress ? VK_SAVE_COMPRESS : 0);
    struct vk_save_stats st;
    if ((r = vk_vm_save(a.v[0], a.v[1], flags, &st)) < 0)
        return cli_fail(r);
    if (isatty(1))
        printf("Saved %s to %s (%.1f MiB of state, %.1f MiB file) in %.2f s%s\n", a.v[0],
               a.v[1], st.stream_bytes / 1048576.0, st.file_bytes / 1048576.0, st.ms / 1000.0,
               paused ? "; left paused" : keep ? "; still running" : "");
    return EXIT_OK;
}

int cmd_restore(int argc, char **argv)
{
    bool paused = false;
    const char *name = NULL;
    const struct cli_opt opts[] = {
        OPT_BOOL('p', "paused", &paused, "leave the restored VM paused"),
        OPT_STRING(0, "name", &name, "NEW", "run it under another name (with a new uuid)"),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "restore", "[-p] [--name NEW] FILE [key=value ...]",
        "Restore a VM saved by `vmkit save`: QEMU is started with the saved\n"
        "machine, loads the saved state and the VM runs on where it stopped.\n"
        "key=value overrides change the saved config as in `vmkit create`\n"
        "(e.g. a disk that moved).  A damaged, truncated or foreign FILE is\n"
        "refused and nothing is left running.", 1, -1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    for (int i = 1; i < a.n; i++)
        if (!strchr(a.v[i], '='))
            return cli_usage("restore", "'%s' is not a key=value override", a.v[i]);
    struct vk_restore_opts o = { .paused = paused, .name = name, .overrides = a.v + 1,
                                 .n_overrides = a.n - 1 };
    char nm[80];
    if ((r = vk_vm_restore(a.v[0], &o, nm, sizeof nm)) < 0)
        return cli_fail(r);
    if (isatty(1))
        printf("Restored VM %s%s\n", nm, paused ? " (paused)" : "");
    return EXIT_OK;
}

int cmd_clone(int argc, char **argv)
{
    bool linked = false, progress = false;
    const struct cli_opt opts[] = {
        OPT_BOOL(0, "linked", &linked, "qcow2 overlays on the source's disks instead of copies"),
        OPT_BOOL('p', "progress", &progress, "draw a progress bar (default: on a terminal)"),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "clone", "[--linked] SRC NEW",
        "Define NEW as a copy of the defined, shut-off VM SRC, as virt-clone: a new\n"
        "uuid, a new MAC on every NIC, every writable disk copied sparse next to\n"
        "the source's (its name with SRC replaced by NEW, else -NEW added) or,\n"
        "with --linked, a qcow2 overlay backed by the source's disk (which vmkit\n"
        "then refuses to write while the clone is defined).  CD-ROMs and read-only\n"
        "disks are shared.  NEW is defined, not started; the source's files are\n"
        "never changed.", 2, 2 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    struct vk_progress pb;
    vk_progress_init(&pb, STDERR_FILENO, progress);
    struct vk_clone_opts o = { .linked = linked, .progress = vk_progress_update,
                               .progress_ctx = &pb };
    r = vk_vm_clone(a.v[0], a.v[1], &o);
    vk_progress_end(&pb);
    if (r < 0)
        return cli_fail(r);
    if (isatty(1))
        printf("Defined %s as a %s clone of %s\n", a.v[1], linked ? "linked" : "full", a.v[0]);
    return EXIT_OK;
}

/* The list as qemu-img snapshot -l prints it. */
static void print_snaps(const struct vk_snapinfo *s, int n)
{
    printf("%-4s %-20s %10s %-19s %15s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK");
    for (int i = 0; i < n; i++) {
        char date[32], clk[32];
        time_t t = (time_t)s[i].date_sec;
        struct tm tm;
        strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
        long long ms = s[i].vm_clock_ns / 1000000;
        snprintf(clk, sizeof clk, "%04lld:%02lld:%02lld.%03lld", ms / 3600000, ms / 60000 % 60,
                 ms / 1000 % 60, ms % 1000);
        char sz[32];
        snprintf(sz, sizeof sz, "%.1f MiB", s[i].vm_state_size / 1048576.0);
        printf("%-4s %-20s %10s %-19s %15s\n", s[i].id, s[i].name,
               s[i].vm_state_size ? sz : "0 B", date, clk);
    }
}

int cmd_snapshot(int argc, char **argv)
{
    bool json = false;
    const struct cli_opt opts[] = {
        OPT_BOOL(0, "json", &json, "list: print JSON"),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "snapshot", "NAME create|list|revert|delete [SNAP]",
        "Internal snapshots of a VM's qcow2 disks, as `virsh snapshot-*`.  Of a\n"
        "running VM: every writable disk and the machine's state (memory,\n"
        "devices), through QEMU's snapshot jobs; revert brings the guest back to\n"
        "that moment.  Of a VM that is not running: its disks only.  Every\n"
        "writable disk must be qcow2; CD-ROMs and read-only disks are left out.\n"
        "`qemu-img snapshot -l DISK` lists the same snapshots.", 2, 3 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    static const char *const verbs[] = { "create", "revert", "delete" };
    const char *verb = a.v[1];
    if (!strcmp(verb, "list")) {
        if (a.n != 2)
            return cli_usage("snapshot", "list takes no SNAP");
        struct vk_snapinfo *s;
        int n = vk_vm_snapshot_list(a.v[0], &s);
        if (n < 0)
            return cli_fail(n);
        if (json) {
            json_t *arr = json_array();
            for (int i = 0; i < n; i++)
                json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:I, s:I}", "id", s[i].id,
                                                     "name", s[i].name, "vm-state-size",
                                                     cli_json_u64(s[i].vm_state_size), "date-sec",
                                                     (json_int_t)s[i].date_sec, "vm-clock-nsec",
                                                     (json_int_t)s[i].vm_clock_ns));
            r = cli_print_json(arr);
        } else {
            print_snaps(s, n);
            r = EXIT_OK;
        }
        vk_snapinfo_free(s, n);
        return r;
    }
    for (int op = 0; op < 3; op++) {
        if (strcmp(verb, verbs[op]))
            continue;
        if (a.n != 3)
            return cli_usage("snapshot", "%s needs SNAP", verb);
        if ((r = vk_vm_snapshot(a.v[0], (enum vk_snap_op)op, a.v[2])) < 0)
            return cli_fail(r);
        return EXIT_OK;
    }
    return cli_usage("snapshot", "'%s' is not create, list, revert or delete", verb);
}
