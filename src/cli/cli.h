/* Shared helpers of the vmkit command.  Only cli/ prints or exits. */
#ifndef VK_CLI_CLI_H
#define VK_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Exit statuses (DESIGN.md). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* A command group or verb: run(argc, argv) with argv[0] the verb itself.
 * Returns the exit status.  A group's table of these is the one list of
 * its verbs: its --help is generated from it (cli/opt.h). */
struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;    /* one line, for the group's --help */
};

/* Run the sub-command argv[1] of a group from table (NULL-terminated), or
 * print the group's help.  group is "img", "part", ...
 * (cli_dispatch_opts in cli/opt.h: the same with group options). */
int cli_dispatch(const char *group, const struct cli_command *table,
                 int argc, char **argv);

/* A top-level verb that prints its own --help from usage and help (the
 * VM verbs, until they use cli_parse).  vmkit's --help lists summary. */
struct cli_verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;    /* one line, for vmkit --help */
    const char *usage;      /* the operands: "CFG [key=value ...]" */
    const char *help;
};
/* The VM verbs (vm.c): create, list, console, ...; a NULL name ends it.
 * cmd_vm(argc, argv) runs the one named argv[0]. */
extern const struct cli_verb cli_vm_verbs[];

/* Print "vmkit: <library message for r>" and return EXIT_FAIL. */
int cli_fail(int r);
/* Print "vmkit: <formatted>" and return EXIT_FAIL. */
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "vmkit: <formatted>" plus a hint to --help; return EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True if argv has -h or --help before any "--". */
bool cli_wants_help(int argc, char **argv);

/* Take every "NAME VALUE" and "NAME=VALUE" off argv (keeping argv[argc] NULL)
 * and return the last value, or NULL: options that a whole verb group
 * accepts (fs --codepage, fs/part --format) before each verb parses its own. */
const char *cli_take_option(int *argc, char **argv, const char *name);

/* Print a JSON value (indented, newline-terminated) to stdout and free it. */
int cli_print_json(json_t *v);
/* A JSON number for an unsigned 64-bit value.  jansson's integers are
 * signed, so values of 2^63 and more (sizes read from a damaged disk)
 * would print negative: they travel as a marked string that
 * cli_print_json writes as the bare unsigned number, as qemu-img does. */
json_t *cli_json_u64(uint64_t v);

/* Entry points of the command groups (one file each). */
int cmd_img(int argc, char **argv);
int cmd_part(int argc, char **argv);
int cmd_fs(int argc, char **argv);
int cmd_vm(int argc, char **argv);      /* the verbs of cli_vm_verbs */
int cmd_guest(int argc, char **argv);
int cmd_boot(int argc, char **argv);     /* boot.c */
int cmd_demo(int argc, char **argv);
int cmd_screen(int argc, char **argv);  /* screenshot, cd-insert, cd-eject */
int cmd_hotplug(int argc, char **argv); /* hotplug.c: block-*, network-*, mem-set, vcpu-set */
int cmd_install(int argc, char **argv);
int cmd_doctor(int argc, char **argv);  /* doctor.c */
int cmd_backup(int argc, char **argv);  /* backup.c */
int cmd_tls(int argc, char **argv);     /* tls.c */
int cmd_serve(int argc, char **argv);   /* serve.c: the web console */
/* Print `vmkit --version`: vmkit's, QEMU's and the libraries' versions. */
int cli_version(void);
int cmd_save(int argc, char **argv);      /* vmstate.c: save, restore, snapshot, clone */
int cmd_restore(int argc, char **argv);
int cmd_clone(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_top(int argc, char **argv);       /* top.c */
int cmd_migrate(int argc, char **argv);   /* migrate.c: migrate, migrate-receive */
int cmd_migrate_receive(int argc, char **argv);

/* ISO 9660 parts of `vmkit fs` (fs_iso.c). */
struct vk_iso_mkfs_opts;
struct vk_blockdev;
int cli_fs_mkfs_iso(const char *target, const char *fmt, const struct vk_iso_mkfs_opts *o,
                    bool force);
/* Adds the El Torito record to probe's JSON object o, or prints it (o NULL). */
void cli_fs_probe_iso(struct vk_blockdev *bd, json_t *o);
/* fs ls, cat and get (fs.c) over the filesystem on bd, opened read-only;
 * bd is closed before they return; path NULL is "/".  They print as the
 * fs verbs do and return the exit status. */
int cli_fs_ls_dev(struct vk_blockdev *bd, const char *path, bool lng, bool rec, bool json);
int cli_fs_cat_dev(struct vk_blockdev *bd, const char *path);
int cli_fs_get_dev(struct vk_blockdev *bd, const char *path, const char *dest, bool rec);

#endif
