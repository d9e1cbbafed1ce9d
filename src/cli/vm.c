/* vmkit create, define, undefine, start, list, console, shutdown, reboot,
 * destroy, pause, unpause, config: running VMs (xm/xl style). */
#include "cli/cli.h"
#include "cli/opt.h"

#include "util/err.h"
#include "util/file.h"
#include "vm/config.h"
#include "vm/libvirt_xml.h"
#include "vm/ova.h"
#include "vm/console.h"
#include "vm/control.h"
#include "vm/monitor.h"
#include "vm/qemu_args.h"
#include "vm/runtime.h"
#include "vm/store.h"
#include "vm/vmjson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct cli_verb *verb_of(const char *name);

static int usage_err(const char *verb, const char *fmt, const char *arg)
{
    return cli_usage(verb, fmt, arg ? arg : "");
}

/* Parse the argv of VM verb argv[0] against opts (NULL: none), with the
 * verb's operands and help from cli_vm_verbs and between min and max
 * (-1: any) operands.  CLI_PARSED: the operands are argv[1..*argc);
 * otherwise the exit status (help printed, or a usage error). */
static int vm_parse(const struct cli_opt *opts, int min, int max, int *argc, char **argv)
{
    static const struct cli_opt none[] = { OPT_END() };
    const struct cli_verb *v = verb_of(argv[0]);
    const struct cli_spec spec = { v->name, v->usage, v->help, min, max };
    struct cli_args a;
    int r = cli_parse(&spec, opts ? opts : none, *argc, argv, &a);
    if (r == CLI_PARSED)
        *argc = a.n + 1;
    return r;
}

#define VM_PARSE(opts, min, max)                                    \
    do {                                                            \
        int parsed_ = vm_parse((opts), (min), (max), &argc, argv);  \
        if (parsed_ != CLI_PARSED)                                  \
            return parsed_;                                         \
    } while (0)

/* Attach the caller's stdin/stdout to VM name's console; timeout_ms > 0
 * ends the session after that long (vk_console_opts). */
static int attach_console(const char *name, int timeout_ms)
{
    struct vk_console_opts o = { .in_fd = 0, .out_fd = 1, .timeout_ms = timeout_ms,
                                 .interactive = isatty(0) && isatty(1) };
    if (o.interactive)
        fprintf(stderr, "Connected to %s's console; Ctrl-] leaves.\n", name);
    int r = vk_console_run(name, &o);
    if (r < 0)
        return cli_fail(r);
    if (o.interactive)
        fprintf(stderr, r == 1 ? "\r\n[%s ended]\r\n" : "\r\n[left %s's console]\r\n", name);
    return EXIT_OK;
}

/* A word of a command line as a POSIX shell reads it back. */
static void put_shell_word(const char *w)
{
    if (*w && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "-_./=:,+@%") == strlen(w)) {
        fputs(w, stdout);
        return;
    }
    putchar('\'');
    for (; *w; w++)
        if (*w == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*w);
    putchar('\'');
}

/* create -n: the effective config and QEMU's command line, one option
 * per line. */
static int dry_run(struct vk_domcfg *cfg, int paused)
{
    struct vk_start_opts o = { .paused = paused };
    char **av = NULL;
    int err = vk_vm_dryrun(cfg, &o, &av);
    if (err)
        return cli_fail(err);
    char *text = vk_domcfg_format(cfg);
    if (!text) {
        vk_argv_free(av);
        return cli_fail(-ENOMEM);
    }
    fputs(text, stdout);
    free(text);
    printf("# QEMU command line (dry run: nothing was started)\n");
    for (char **a = av; *a; a++) {
        if (a != av)
            fputs((*a)[0] == '-' ? " \\\n    " : " ", stdout);
        put_shell_word(*a);
    }
    putchar('\n');
    vk_argv_free(av);
    return EXIT_OK;
}

/* create CFG [key=value ...] [-c] [-p] [-n];  start NAME [-c] [-p] */
static int start_common(int argc, char **argv, int stored)
{
    const char *verb = argv[0];
    bool console = false, paused = false, dry = false;
    const struct cli_opt create_opts[] = {
        OPT_BOOL('c', "console", &console, "attach to its serial console (Ctrl-] leaves)"),
        OPT_BOOL('p', "paused", &paused, "leave its CPUs stopped (vmkit unpause starts them)"),
        OPT_BOOL('n', "dry-run", &dry, "as xl create -n: check everything a real create checks, print the\n"
                 "effective config and QEMU's command line, and start nothing"),
        OPT_END(),
    };
    const struct cli_opt start_opts[] = { create_opts[0], create_opts[1], OPT_END() };
    VM_PARSE(stored ? start_opts : create_opts, 1, stored ? 1 : -1);
    /* positionals: everything not an option, in order */
    const char *first = NULL;
    struct vk_domcfg cfg;
    vk_domcfg_init(&cfg);
    int err = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!first) {
            first = a;
            err = stored ? vk_store_load(a, &cfg) : vk_domcfg_load(a, &cfg);
            if (err)
                return cli_fail(err);
            continue;
        }
        if (stored) {
            vk_domcfg_free(&cfg);
            return usage_err(verb, "unexpected argument '%s'", a);
        }
        if (!strchr(a, '=')) {
            vk_domcfg_free(&cfg);
            return usage_err(verb, "'%s' is not a key=value override", a);
        }
        if ((err = vk_domcfg_set(&cfg, a)) < 0) {
            vk_domcfg_free(&cfg);
            return cli_fail(err);
        }
    }
    if (!first)
        return usage_err(verb, stored ? "which VM? (vmkit start NAME)%s"
                                      : "which config file? (vmkit create CFG)%s", NULL);
    if (dry) {
        err = dry_run(&cfg, paused);
        vk_domcfg_free(&cfg);
        return err;
    }
    struct vk_start_opts o = { .paused = paused };
    err = vk_vm_start(&cfg, &o);
    char name[80];
    snprintf(name, sizeof name, "%s", cfg.name ? cfg.name : "");
    vk_domcfg_free(&cfg);
    if (err)
        return cli_fail(err);
    if (!console && isatty(1))
        printf("Started VM %s%s\n", name, paused ? " (paused)" : "");
    return console ? attach_console(name, 0) : EXIT_OK;
}

static int do_create(int argc, char **argv)
{
    return start_common(argc, argv, 0);
}

static int do_start(int argc, char **argv)
{
    return start_common(argc, argv, 1);
}

static int do_define(int argc, char **argv)
{
    const char *xml = NULL, *name = NULL;
    const struct cli_opt opts[] = {
        OPT_STRING(0, "xml", &xml, "FILE", "read a libvirt domain XML (virsh dumpxml's) instead of an\n"
                   "xl.cfg; what vmkit cannot honour is refused, naming the element"),
        OPT_STRING(0, "name", &name, "NAME", "with --xml: define it under this name (as name=NAME)"),
        OPT_END(),
    };
    VM_PARSE(opts, 0, -1);
    if (!xml && argc < 2)
        return usage_err(argv[0], "which config file? (vmkit define CFG, or --xml FILE)%s", NULL);
    if (name && !xml)
        return usage_err(argv[0], "--name goes with --xml (an xl.cfg takes name=NAME)%s", NULL);
    struct vk_domcfg cfg;
    int err, first = xml ? 1 : 2;
    if (xml) {
        char *text = NULL;
        size_t len = 0;
        err = vk_read_small_file(xml, VK_CFG_MAX_BYTES, &text, &len);
        if (!err)
            err = vk_libvirt_xml_read(text, len, xml, &cfg);
        free(text);
    } else {
        err = vk_domcfg_load(argv[1], &cfg);
    }
    if (err)
        return cli_fail(err);
    for (int i = first; i < argc && !err; i++) {
        if (!strchr(argv[i], '=')) {
            vk_domcfg_free(&cfg);
            return usage_err(argv[0], "'%s' is not a key=value override", argv[i]);
        }
        err = vk_domcfg_set(&cfg, argv[i]);
    }
    if (!err && name) {
        char *a = NULL;
        err = asprintf(&a, "name=%s", name) < 0 ? vk_error(-ENOMEM, "out of memory")
                                                 : vk_domcfg_set(&cfg, a);
        free(a);
    }
    if (!err && !(err = vk_domcfg_check(&cfg)))
        err = vk_store_define(&cfg);
    vk_domcfg_free(&cfg);
    return err ? cli_fail(err) : EXIT_OK;
}

static int one_name(int argc, char **argv, int (*fn)(const char *))
{
    VM_PARSE(NULL, 1, 1);
    int err = fn(argv[1]);
    return err ? cli_fail(err) : EXIT_OK;
}

static int do_undefine(int argc, char **argv) { return one_name(argc, argv, vk_store_undefine); }
static int do_reboot(int argc, char **argv) { return one_name(argc, argv, vk_vm_reboot); }
static int do_destroy(int argc, char **argv) { return one_name(argc, argv, vk_vm_destroy); }
static int do_pause(int argc, char **argv) { return one_name(argc, argv, vk_vm_pause); }
static int do_unpause(int argc, char **argv) { return one_name(argc, argv, vk_vm_unpause); }

/* -t SECS: 1..86400 (ctx: the int). */
static int shutdown_timeout(const struct cli_opt *o, const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*end || end == arg || v <= 0 || v > 86400)
        return vk_error(-EINVAL, "-t wants seconds (1..86400), not '%s'", arg);
    *(int *)o->ctx = (int)v;
    return 0;
}

static int do_shutdown(int argc, char **argv)
{
    bool wait = false, force = false;
    int timeout = 0;
    const struct cli_opt opts[] = {
        OPT_BOOL('w', "wait", &wait, "wait until QEMU is gone (pressing again every 10 s)"),
        OPT_CALLBACK('t', "timeout", &timeout, "SECS", "wait at most SECS (implies -w); still running then:\n"
                     "exit 1, the VM left running", shutdown_timeout),
        OPT_BOOL(0, "force", &force, "with -t: destroy it instead when the time is up (and say so)"),
        OPT_END(),
    };
    VM_PARSE(opts, 1, 1);
    const int first = 1;    /* the first operand */
    if (force && !timeout)
        return usage_err(argv[0], "--force needs -t SECS%s", NULL);
    int err = vk_vm_shutdown(argv[first], wait || timeout, timeout);
    if (err == -ETIMEDOUT && force) {
        fprintf(stderr, "vmkit: %s; destroying it (--force)\n", vk_errmsg());
        err = vk_vm_destroy(argv[first]);
    }
    return err ? cli_fail(err) : EXIT_OK;
}

/* --timeout SECS: (0, 86400], fractions allowed (ctx: the int of ms). */
static int console_timeout(const struct cli_opt *o, const char *arg)
{
    char *end;
    double v = strtod(arg, &end);
    if (*end || end == arg || !(v > 0 && v <= 86400))
        return vk_error(-EINVAL, "--timeout wants seconds, not '%s'", arg);
    *(int *)o->ctx = (int)(v * 1000);
    return 0;
}

static int do_console(int argc, char **argv)
{
    int timeout = 0;
    const struct cli_opt opts[] = {
        OPT_CALLBACK(0, "timeout", &timeout, "SECS", "leave after SECS (without a terminal)", console_timeout),
        OPT_END(),
    };
    VM_PARSE(opts, 1, 1);
    const int first = 1;    /* the first operand */
    return attach_console(argv[first], timeout);
}

/* The config of NAME, running (its accel into accel) or else defined:
 * 0, or the exit status after printing the error. */
static int load_vm(const char *name, struct vk_domcfg *cfg, char *accel, size_t alen)
{
    struct vk_vminfo info;
    int err = vk_rt_info(name, 0, &info);
    if (accel)
        *accel = 0;
    if (err == 0) {
        *cfg = info.cfg;               /* take it over */
        vk_domcfg_init(&info.cfg);
        if (accel)
            snprintf(accel, alen, "%s", strncmp(info.accel, "kvm", 3) ? "tcg" : "kvm");
        vk_vminfo_free(&info);
    } else if (err == -ENOENT) {
        vk_error_clear();
        if ((err = vk_store_load(name, cfg)) == -ENOENT)
            return cli_failf("%s: no such VM (neither running nor defined)", name);
    }
    return err ? cli_fail(err) : 0;
}

static int do_config(int argc, char **argv)
{
    VM_PARSE(NULL, 1, 1);
    struct vk_domcfg cfg;
    int rc = load_vm(argv[1], &cfg, NULL, 0);
    if (rc)
        return rc;
    char *text = vk_domcfg_format(&cfg);
    vk_domcfg_free(&cfg);
    if (!text)
        return cli_failf("out of memory");
    fputs(text, stdout);
    free(text);
    return EXIT_OK;
}

/* dumpxml NAME: as virsh dumpxml, the domain XML of a running (its actual
 * accelerator) or defined VM. */
static int do_dumpxml(int argc, char **argv)
{
    VM_PARSE(NULL, 1, 1);
    struct vk_domcfg cfg;
    char accel[8];
    int rc = load_vm(argv[1], &cfg, accel, sizeof accel);
    if (rc)
        return rc;
    int err = vk_domcfg_check(&cfg);   /* a stored config is checked: this fills nothing new */
    char *xml = err ? NULL : vk_libvirt_xml_write(&cfg, *accel ? accel : NULL);
    vk_domcfg_free(&cfg);
    if (!xml)
        return cli_fail(err ? err : -EINVAL);
    fputs(xml, stdout);
    free(xml);
    return EXIT_OK;
}

/* Read a whole small file (a config: at most VK_CFG_MAX_BYTES) into a
 * malloc'd NUL-terminated buffer; NULL with a message printed. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "vmkit: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *b = malloc(VK_CFG_MAX_BYTES + 2);
    size_t n = b ? fread(b, 1, VK_CFG_MAX_BYTES + 1, f) : 0;
    int bad = !b || ferror(f);
    fclose(f);
    if (bad || n > VK_CFG_MAX_BYTES) {
        fprintf(stderr, "vmkit: %s: %s\n", path, bad ? "cannot read it" : "larger than 1 MiB");
        free(b);
        return NULL;
    }
    b[n] = '\0';
    *len = n;
    return b;
}

/* The editor as virsh edit chooses it ($VISUAL, else $EDITOR, else vi),
 * run through the shell as virsh does (the variable may carry
 * arguments), on path.  0 when it exited 0. */
static int run_editor(const char *path)
{
    const char *ed = getenv("VISUAL");
    if (!ed || !*ed)
        ed = getenv("EDITOR");
    if (!ed || !*ed)
        ed = "vi";
    char *script = NULL;
    if (asprintf(&script, "%s \"$1\"", ed) < 0)
        return cli_failf("out of memory");
    fflush(NULL);
    pid_t p = fork();
    if (p == 0) {
        execl("/bin/sh", "sh", "-c", script, "sh", path, (char *)NULL);
        _exit(127);
    }
    free(script);
    int st = 0;
    if (p < 0 || waitpid(p, &st, 0) < 0)
        return cli_failf("running the editor: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        return cli_failf("editor '%s' failed (%s %d)", ed,
                         WIFEXITED(st) ? "exit status" : "signal",
                         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return 0;
}

/* The edited text of domain name (old: its stored config) checked as
 * define checks a config, and stored in place of the old one.  0 or a
 * negative errno with the message recorded. */
static int edit_apply(const char *name, const char *tmp, const char *text, size_t len,
                      const struct vk_domcfg *old)
{
    struct vk_domcfg cfg;
    int err = vk_domcfg_parse(text, len, tmp, &cfg);
    if (err)
        return err;
    if (!cfg.name)
        err = vk_error(-EINVAL, "%s: no name = \"...\" given (it must stay \"%s\")", tmp, name);
    else if (strcmp(cfg.name, name))
        err = vk_error(-EINVAL, "%s: name \"%s\": edit cannot rename \"%s\" (undefine it and "
                       "define the new config)", tmp, cfg.name, name);
    /* a removed uuid keeps the domain's identity rather than making a new one */
    if (!err && !cfg.uuid && old->uuid && !(cfg.uuid = strdup(old->uuid)))
        err = vk_error(-ENOMEM, "out of memory");
    if (!err)
        err = vk_domcfg_check(&cfg);
    if (!err)
        err = vk_store_replace(&cfg);
    vk_domcfg_free(&cfg);
    return err;
}

/* edit NAME: as virsh edit: the stored config in an editor, checked as
 * define checks it before it replaces the old one (atomically).  On a
 * mistake a terminal user may edit again; otherwise the old config stays
 * and the exit status is 1. */
static int do_edit(int argc, char **argv)
{
    VM_PARSE(NULL, 1, 1);
    const char *name = argv[1];
    char path[4096];
    struct vk_domcfg old;
    int err = vk_store_path(name, path, sizeof path);
    if (!err)
        err = vk_store_load(name, &old);
    if (err)
        return cli_fail(err);
    size_t olen = 0, nlen = 0;
    char *orig = slurp(path, &olen);
    if (!orig) {
        vk_domcfg_free(&old);
        return EXIT_FAIL;
    }
    const char *td = getenv("TMPDIR");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/vmkit-edit-%s-XXXXXX.cfg", td && *td ? td : "/tmp", name);
    int fd = mkstemps(tmp, 4), rc = EXIT_FAIL;
    if (fd < 0 || write(fd, orig, olen) != (ssize_t)olen || close(fd) < 0) {
        rc = cli_failf("%s: %s", tmp, strerror(errno));
        if (fd >= 0)
            unlink(tmp);
        free(orig);
        vk_domcfg_free(&old);
        return rc;
    }
    int tty = isatty(0) && isatty(2);
    for (;;) {
        if (run_editor(tmp) != 0)
            break;
        char *text = slurp(tmp, &nlen);
        if (!text)
            break;
        if (nlen == olen && !memcmp(text, orig, olen)) {
            printf("%s: configuration not changed\n", name);
            free(text);
            rc = EXIT_OK;
            break;
        }
        err = edit_apply(name, tmp, text, nlen, &old);
        free(text);
        if (!err) {
            printf("%s: configuration edited (it applies from the next start)\n", name);
            rc = EXIT_OK;
            break;
        }
        cli_fail(err);
        if (!tty) {
            fprintf(stderr, "vmkit: %s: the stored configuration is unchanged\n", name);
            break;
        }
        fprintf(stderr, "Failed. Try again? [y,n]: ");
        char ans[16];
        if (!fgets(ans, sizeof ans, stdin) || (ans[0] != 'y' && ans[0] != 'Y')) {
            fprintf(stderr, "vmkit: %s: the stored configuration is unchanged\n", name);
            break;
        }
    }
    unlink(tmp);
    free(orig);
    vk_domcfg_free(&old);
    return rc;
}

/* xm's six state flags: r b p s c d. */
static const char *xm_flags(enum vk_vm_state s)
{
    switch (s) {
    case VK_ST_RUNNING:  return "r-----";
    case VK_ST_BLOCKED:  return "-b----";
    case VK_ST_PAUSED:   return "--p---";
    case VK_ST_SHUTDOWN: return "---s--";
    case VK_ST_CRASHED:  return "----c-";
    default:             return "------";
    }
}

static void print_long(const struct vk_vminfo *v)
{
    printf("  uuid:     %s\n  accel:    %s\n", v->cfg.uuid ? v->cfg.uuid : "-",
           *v->accel ? v->accel : "-");
    if (v->pid)
        printf("  pid:      %d (monitor %d)\n", (int)v->pid, (int)v->monitor);
    for (unsigned i = 0; i < v->cfg.n_disks; i++) {
        const struct vk_diskspec *d = &v->cfg.disks[i];
        printf("  disk:     %s %s%s%s\n", d->vdev ? d->vdev : "?",
               d->target && *d->target ? d->target : "(empty)",
               d->cdrom ? " cdrom" : "", d->readonly ? " ro" : " rw");
    }
    printf("  console:  %s/console.sock (log %s/console.log)\n", v->dir, v->dir);
    printf("  vnc:      %s\n", *v->vnc ? v->vnc : "-");
    for (unsigned i = 0; i < v->cfg.n_vifs; i++)
        for (unsigned j = 0; j < v->cfg.vifs[i].n_hostfwd; j++)
            printf("  forward:  %s\n", v->cfg.vifs[i].hostfwd[j]);
}

/* list --all: the defined domains that have no runtime directory, as
 * virsh list --all shows them ("shut off"); names filters as for list.
 * Returns the number of names given on the command line it found. */
static int list_defined(const struct vk_vminfo *v, int n, char **want, int nwant, json_t *arr)
{
    char **names;
    int m = vk_store_list(&names), found = 0;
    if (m < 0) {
        vk_error_clear();
        return 0;
    }
    for (int i = 0; i < m; i++) {
        int running = 0, wanted = !nwant;
        for (int k = 0; k < n; k++)
            running |= !strcmp(v[k].name, names[i]);
        for (int a = 0; a < nwant; a++)
            wanted |= !strcmp(want[a], names[i]);
        if (running || !wanted)
            continue;
        found++;
        struct vk_domcfg cfg;
        if (vk_store_load(names[i], &cfg) < 0) {
            fprintf(stderr, "vmkit: warning: %s\n", vk_errmsg());
            vk_error_clear();
            continue;
        }
        if (arr)
            json_array_append_new(arr, vk_defined_json(names[i], &cfg));
        else
            printf("%-32s %5s %6ld %5ld %6s %9s\n", names[i], "-", cfg.memory, cfg.vcpus, "off",
                   "-");
        vk_domcfg_free(&cfg);
    }
    vk_store_list_free(names, m);
    return found;
}

static int do_list(int argc, char **argv)
{
    bool longfmt = false, json = false, all = false;
    const struct cli_opt opts[] = {
        OPT_BOOL('a', "all", &all, "also the defined VMs that are not running (State off;\n"
                 "in --json \"shut off\", as virsh list --all)"),
        OPT_BOOL('l', "long", &longfmt, "also acceleration, pids, disks, console, VNC, port forwards"),
        OPT_BOOL(0, "json", &json, "an array of objects (name id uuid memory vcpus state time ...)"),
        OPT_END(),
    };
    VM_PARSE(opts, 0, -1);
    const int first = 1;    /* the first operand */
    struct vk_vminfo *v;
    /* the state files are kept current by the monitors (and pause/unpause):
     * no QMP round trip per VM, so listing stays fast with many VMs */
    int n = vk_rt_list(0, &v);
    if (n < 0)
        return cli_fail(n);
    /* names given: only those, and each must exist (with --all: running
     * or defined) */
    for (int a = first; a < argc; a++) {
        int found = 0;
        for (int i = 0; i < n; i++)
            found |= !strcmp(v[i].name, argv[a]);
        if (!found && all) {
            char p[4096];
            found = vk_store_path(argv[a], p, sizeof p) == 0 && access(p, F_OK) == 0;
            vk_error_clear();
        }
        if (!found) {
            vk_vminfo_list_free(v, n);
            return cli_failf("%s: no such VM%s", argv[a], all ? " (neither running nor defined)" : "");
        }
    }
    json_t *arr = json ? json_array() : NULL;
    if (!json)
        printf("%-32s %5s %6s %5s %6s %9s\n", "Name", "ID", "Mem", "VCPUs", "State", "Time(s)");
    for (int i = 0; i < n; i++) {
        int want = first >= argc;
        for (int a = first; a < argc; a++)
            want |= !strcmp(v[i].name, argv[a]);
        if (!want)
            continue;
        if (json) {
            json_array_append_new(arr, vk_vminfo_json(&v[i], longfmt));
            continue;
        }
        printf("%-32s %5d %6ld %5ld %6s %9.1f\n", v[i].name, v[i].id, v[i].cfg.memory,
               v[i].cfg.vcpus, xm_flags(v[i].state), v[i].cpu_secs);
        if (longfmt)
            print_long(&v[i]);
    }
    if (all)
        list_defined(v, n, argv + first, argc - first, arr);
    vk_vminfo_list_free(v, n);
    return json ? cli_print_json(arr) : EXIT_OK;
}

/* export-ova NAME OUT.ova */
static int do_export_ova(int argc, char **argv)
{
    VM_PARSE(NULL, 2, 2);
    int err = vk_ova_export(argv[1], argv[2]);
    return err ? cli_fail(err) : EXIT_OK;
}

/* import-ova IN.ova [--name N] [--dir DIR] [--format F] */
static int do_import_ova(int argc, char **argv)
{
    const char *name = NULL, *dir = NULL, *fmt = "qcow2";
    const struct cli_opt opts[] = {
        OPT_STRING(0, "name", &name, "NAME", "define the VM under this name (default: the OVF's)"),
        OPT_STRING(0, "dir", &dir, "DIR", "write the disks into DIR (default: the OVA's directory)"),
        OPT_STRING(0, "format", &fmt, "FMT", "the disks' format: qcow2 (default) or raw"),
        OPT_END(),
    };
    VM_PARSE(opts, 1, 1);
    if (strcmp(fmt, "qcow2") && strcmp(fmt, "raw"))
        return usage_err(argv[0], "--format %s: qcow2 or raw", fmt);
    char *got = NULL;
    int err = vk_ova_import(argv[1], name, dir, fmt, &got);
    if (err)
        return cli_fail(err);
    printf("%s\n", got);
    free(got);
    return EXIT_OK;
}

/* One entry per verb: name, run, summary (vmkit --help), operands, help
 * (its options come from each verb's table, vm_parse). */
const struct cli_verb cli_vm_verbs[] = {
    { "create", do_create, "start a VM from an xl.cfg file", "CFG [key=value ...]",
      "Start a VM from an xl.cfg file, with overrides as in `xl create`\n"
      "(memory=1024, name=web2).  The VM is transient: nothing is stored." },
    { "define", do_define, "store a VM's xl.cfg (or libvirt XML)", "CFG [key=value ...] | --xml FILE [key=value ...]",
      "Store a VM's configuration (with its generated UUID) for `vmkit start`: an\n"
      "xl.cfg, or with --xml a libvirt domain XML (as virsh define), read into the\n"
      "same xl.cfg model; overrides key=value apply after either." },
    { "undefine", do_undefine, "forget a stored VM", "NAME", "Forget a stored VM configuration." },
    { "start", do_start, "start a stored VM", "NAME", "Start a stored VM (see define)." },
    { "list", do_list, "list VMs", "[NAME...]",
      "List running (and preserved) VMs: Name ID Mem VCPUs State Time(s).\n"
      "State flags as xm: r running, b blocked (idle), p paused, s shut down,\n"
      "c crashed.  Time is the CPU time QEMU has used." },
    { "console", do_console, "attach to a VM's serial console (Ctrl-] leaves)", "NAME",
      "Attach to a VM's serial console.  On a terminal Ctrl-] leaves; otherwise\n"
      "stdin is sent to the console and its output copied to stdout until stdin\n"
      "ends (plus one second) or --timeout." },
    { "shutdown", do_shutdown, "ask a VM to power off", "NAME",
      "Press the VM's ACPI power button." },
    { "reboot", do_reboot, "ask a VM to reboot", "NAME",
      "Reset the VM; on_reboot decides what follows (restart boots it again)." },
    { "destroy", do_destroy, "stop a VM at once", "NAME",
      "Stop a VM at once and remove its state (also a preserved crashed VM)." },
    { "pause", do_pause, "pause a VM", "NAME", "Stop a VM's CPUs." },
    { "unpause", do_unpause, "resume a paused VM", "NAME", "Resume a paused VM." },
    { "edit", do_edit, "edit a defined VM's xl.cfg in $EDITOR", "NAME",
      "Edit a defined VM's stored xl.cfg, as virsh edit: in $VISUAL, else $EDITOR,\n"
      "else vi.  The result is checked as define checks a config (the same parser\n"
      "and checks; the name must stay, a removed uuid is kept) and replaces the\n"
      "stored one atomically, or is refused: on a terminal you may edit again,\n"
      "otherwise the stored config stays and the exit status is 1.  A running VM\n"
      "gets the new config at its next start." },
    { "config", do_config, "print a VM's effective xl.cfg", "NAME",
      "Print a VM's effective xl.cfg (running VM, else the stored one)." },
    { "dumpxml", do_dumpxml, "print a VM's libvirt domain XML", "NAME",
      "Print a VM's configuration (running VM, else the stored one) as a libvirt\n"
      "domain XML, as virsh dumpxml: type kvm or qemu as it runs (defined: as it\n"
      "would), disks, NICs, serial ports, display.  define --xml reads it back; a\n"
      "setting the XML cannot express is an error naming the xl.cfg key." },
    { "export-ova", do_export_ova, "write a defined VM as an OVA", "NAME OUT.ova",
      "Write a defined, shut-off VM as an OVA (as VirtualBox and VMware exchange\n"
      "VMs): a tar of an OVF 1.0 descriptor (memory, vCPUs, disks, CD drives,\n"
      "NICs), its disks as streamOptimized VMDKs and a SHA256 manifest.  Written\n"
      "to OUT.ova.tmp and renamed when complete; an existing OUT.ova is refused." },
    { "import-ova", do_import_ova, "define a VM from an OVA", "IN.ova [--name N] [--dir DIR] [--format F]",
      "Define a VM from an OVA (OVF 1.0 or 2.0, VMDK disks).  The manifest's\n"
      "SHA256/SHA1 digests are checked; each disk is converted to DIR/NAME-diskN.FMT\n"
      "(DIR: the OVA's directory unless --dir); NICs become user-mode e1000 NICs,\n"
      "CD drives one empty drive.  What cannot be mapped (several VMs, non-VMDK\n"
      "disks, missing files) is refused, and nothing is left behind.  Prints the\n"
      "VM's name." },
    { NULL, NULL, NULL, NULL, NULL },
};

static const struct cli_verb *verb_of(const char *name)
{
    for (const struct cli_verb *v = cli_vm_verbs; v->name; v++)
        if (!strcmp(v->name, name))
            return v;
    return NULL;
}

int cmd_vm(int argc, char **argv)
{
    const struct cli_verb *v = verb_of(argv[0]);
    if (!v)
        return cli_failf("%s: not a VM command", argv[0]);
    return v->run(argc, argv);
}
