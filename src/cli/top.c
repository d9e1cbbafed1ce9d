/* vmkit top: xentop for vmkit.  Batch lines or JSON for scripts; on a
 * terminal a full-screen view redrawn every delay with plain ANSI escapes
 * (one whole redraw per refresh needs nothing ncurses adds, and vmkit
 * stays without the dependency). */
#include "cli/cli.h"
#include "cli/opt.h"

#include "util/err.h"
#include "vm/top.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

struct top_opts {
    long iterations;        /* 0: until quit */
    double delay;           /* seconds */
    enum vk_top_key key;
    int reverse;
};

/* The sort keys: --sort NAME and the interactive key letter. */
static const struct {
    const char *name;
    char letter;
    enum vk_top_key key;
} keys[] = {
    { "id", 'i', VK_TOP_BY_ID },       { "name", 'n', VK_TOP_BY_NAME },
    { "state", 's', VK_TOP_BY_STATE }, { "cpu", 'c', VK_TOP_BY_CPU },
    { "time", 't', VK_TOP_BY_CPUTIME }, { "mem", 'm', VK_TOP_BY_MEM },
    { "vcpus", 'v', VK_TOP_BY_VCPUS }, { "read", 'r', VK_TOP_BY_READ },
    { "write", 'w', VK_TOP_BY_WRITE }, { "net", 'x', VK_TOP_BY_NET },
};
#define N_KEYS (sizeof keys / sizeof *keys)

static int opt_iterations(const struct cli_opt *o, const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*end || end == arg || v < 1 || v > 1000000000)
        return vk_error(-EINVAL, "-i wants a number of iterations (1 or more), not '%s'", arg);
    ((struct top_opts *)o->ctx)->iterations = v;
    return 0;
}

static int opt_delay(const struct cli_opt *o, const char *arg)
{
    char *end;
    double v = strtod(arg, &end);
    if (*end || end == arg || !isfinite(v) || v < 0.1 || v > 86400)
        return vk_error(-EINVAL, "-d wants seconds (0.1..86400), not '%s'", arg);
    ((struct top_opts *)o->ctx)->delay = v;
    return 0;
}

static int opt_sort(const struct cli_opt *o, const char *arg)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(arg, keys[i].name)) {
            ((struct top_opts *)o->ctx)->key = keys[i].key;
            return 0;
        }
    return vk_error(-EINVAL, "--sort: '%s' is not one of id name state cpu time mem vcpus "
                    "read write net", arg);
}

/* A figure for a column: value / div rounded, or "-" when unknown. */
static const char *num(char *buf, size_t len, int64_t v, int64_t div)
{
    if (v < 0)
        return "-";
    snprintf(buf, len, "%lld", (long long)((v + div / 2) / div));
    return buf;
}

static const char *fixed1(char *buf, size_t len, double v)
{
    if (v < 0)
        return "-";
    snprintf(buf, len, "%.1f", v);
    return buf;
}

#define HEAD_FMT "%-16s %4s %-8s %9s %6s %8s %8s %5s %4s %9s %9s %10s %10s %4s %10s %10s"

static int header(char *out, size_t len)
{
    return snprintf(out, len, HEAD_FMT, "NAME", "ID", "STATE", "CPU(sec)", "CPU(%)",
                    "MEM(MiB)", "RSS(MiB)", "VCPUS", "VBDS", "RD_OPS", "WR_OPS", "RD(KiB)",
                    "WR(KiB)", "NETS", "RX(KiB)", "TX(KiB)");
}

/* One VM's line (no newline) into out. */
static void vm_line(const struct vk_top_vm *v, char *out, size_t len)
{
    char b[13][32];
    char id[16];
    snprintf(id, sizeof id, "%d", v->id);
    snprintf(out, len, HEAD_FMT, v->name, id, vk_vm_state_name(v->state),
             fixed1(b[0], 32, v->cpu_secs), fixed1(b[1], 32, v->cpu_pct),
             num(b[2], 32, v->mem_mib, 1), num(b[3], 32, v->rss, 1048576),
             num(b[4], 32, v->vcpus, 1), num(b[5], 32, v->n_disks, 1),
             num(b[6], 32, v->rd_ops, 1), num(b[7], 32, v->wr_ops, 1),
             num(b[8], 32, v->rd_bytes, 1024), num(b[9], 32, v->wr_bytes, 1024),
             num(b[10], 32, v->nets, 1), num(b[11], 32, v->net_rx, 1024),
             num(b[12], 32, v->net_tx, 1024));
}

static json_t *count_json(int64_t v)
{
    return v < 0 ? json_null() : json_integer(v);
}

static json_t *vm_json(const struct vk_top_vm *v)
{
    json_t *o = json_object(), *disks = v->n_disks < 0 ? json_null() : json_array();
    for (int i = 0; i < v->n_disks; i++) {
        const struct vk_top_disk *d = &v->disks[i];
        json_t *j = json_object();
        json_object_set_new(j, "device", json_string(d->device));
        json_object_set_new(j, "rd_operations", count_json(d->rd_ops));
        json_object_set_new(j, "wr_operations", count_json(d->wr_ops));
        json_object_set_new(j, "rd_bytes", count_json(d->rd_bytes));
        json_object_set_new(j, "wr_bytes", count_json(d->wr_bytes));
        json_array_append_new(disks, j);
    }
    json_object_set_new(o, "name", json_string(v->name));
    json_object_set_new(o, "id", json_integer(v->id));
    json_object_set_new(o, "state", json_string(vk_vm_state_name(v->state)));
    json_object_set_new(o, "pid", v->pid ? json_integer(v->pid) : json_null());
    json_object_set_new(o, "cpu_time", v->cpu_secs < 0 ? json_null() : json_real(v->cpu_secs));
    json_object_set_new(o, "cpu_percent", v->cpu_pct < 0 ? json_null() : json_real(v->cpu_pct));
    json_object_set_new(o, "memory", json_integer(v->mem_mib));
    json_object_set_new(o, "rss", count_json(v->rss));
    json_object_set_new(o, "vcpus", json_integer(v->vcpus));
    json_object_set_new(o, "disks", disks);
    json_object_set_new(o, "rd_operations", count_json(v->rd_ops));
    json_object_set_new(o, "wr_operations", count_json(v->wr_ops));
    json_object_set_new(o, "rd_bytes", count_json(v->rd_bytes));
    json_object_set_new(o, "wr_bytes", count_json(v->wr_bytes));
    json_object_set_new(o, "nets", json_integer(v->nets));
    json_object_set_new(o, "net_rx_bytes", count_json(v->net_rx));
    json_object_set_new(o, "net_tx_bytes", count_json(v->net_tx));
    return o;
}

/* One sample as one line of JSON (a stream of them is JSON Lines). */
static int print_json(const struct vk_top *t)
{
    json_t *arr = json_array();
    for (int i = 0; i < t->n; i++)
        json_array_append_new(arr, vm_json(&t->vm[i]));
    json_t *o = json_pack("{s:I, s:o}", "time", (json_int_t)t->time, "vms", arr);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return cli_failf("out of memory");
    puts(s);
    free(s);
    return fflush(stdout) == 0 ? EXIT_OK : cli_failf("standard output: %s", strerror(errno));
}

static int print_batch(const struct vk_top *t)
{
    char line[1024];
    header(line, sizeof line);
    puts(line);
    for (int i = 0; i < t->n; i++) {
        vm_line(&t->vm[i], line, sizeof line);
        puts(line);
    }
    return fflush(stdout) == 0 ? EXIT_OK : cli_failf("standard output: %s", strerror(errno));
}

static void sleep_secs(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int run_batch(const struct top_opts *o, int json)
{
    struct vk_top prev = { 0 }, cur;
    int rc = EXIT_OK;
    for (long i = 0; rc == EXIT_OK && (!o->iterations || i < o->iterations); i++) {
        if (i)
            sleep_secs(o->delay);
        int n = vk_top_sample(i ? &prev : NULL, &cur);
        if (n < 0) {
            rc = cli_fail(n);
            break;
        }
        vk_top_sort(&cur, o->key, o->reverse);
        rc = json ? print_json(&cur) : print_batch(&cur);
        vk_top_free(&prev);
        prev = cur;
    }
    vk_top_free(&prev);
    return rc;
}

/* --- the interactive view ---------------------------------------- */

static volatile sig_atomic_t got_stop, got_winch;
static void on_stop(int sig) { got_stop = 1; }
static void on_winch(int sig) { got_winch = 1; }

static void draw(const struct vk_top *t, const struct top_opts *o)
{
    struct winsize ws = { 0 };
    int cols = 80, rows = 24;
    if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row)
        cols = ws.ws_col, rows = ws.ws_row;
    int count[VK_ST_CRASHED + 1] = { 0 };
    for (int i = 0; i < t->n; i++)
        if ((unsigned)t->vm[i].state <= VK_ST_CRASHED)
            count[t->vm[i].state]++;
    char line[1024], when[16];
    time_t now = (time_t)t->time;
    strftime(when, sizeof when, "%H:%M:%S", localtime(&now));
    const char *by = "id";
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].key == o->key)
            by = keys[i].name;
    /* home, then each line cleared to its end, then the rest cleared */
    fputs("\033[H", stdout);
    int o_ = snprintf(line, sizeof line, "vmkit top - %s  sort: %s%s  delay: %gs  %d VM%s", when,
                      by, o->reverse ? " (reversed)" : "", o->delay, t->n, t->n == 1 ? "" : "s");
    /* the states there are, as "2 running, 1 paused" */
    for (int s = 0, first = 1; s <= VK_ST_CRASHED; s++)
        if (count[s] && o_ > 0 && (size_t)o_ < sizeof line) {
            o_ += snprintf(line + o_, sizeof line - (size_t)o_, "%s%d %s", first ? ": " : ", ",
                           count[s], vk_vm_state_name((enum vk_vm_state)s));
            first = 0;
        }
    printf("%.*s\033[K\r\n", cols, line);
    header(line, sizeof line);
    printf("\033[7m%-*.*s\033[m\r\n", cols, cols, line);
    for (int i = 0; i < t->n && i < rows - 4; i++) {
        vm_line(&t->vm[i], line, sizeof line);
        printf("%.*s\033[K\r\n", cols, line);
    }
    fputs("\033[J", stdout);
    printf("\033[%d;1H%.*s", rows, cols,
           "n name  s state  c cpu%  t cpu time  m memory  v vcpus  r read  w write  x net  "
           "i id  R reverse  space refresh  q quit");
    fflush(stdout);
}

static int run_interactive(struct top_opts *o)
{
    struct termios old, raw;
    if (tcgetattr(0, &old) < 0)
        return cli_failf("terminal: %s", strerror(errno));
    raw = old;
    raw.c_lflag &= (tcflag_t)~(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    struct sigaction sa = { 0 }, sw = { 0 };
    sa.sa_handler = on_stop;
    sw.sa_handler = on_winch;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGWINCH, &sw, NULL);
    tcsetattr(0, TCSANOW, &raw);
    fputs("\033[?1049h\033[?25l\033[2J", stdout);     /* alternate screen, no cursor */
    struct vk_top prev = { 0 }, cur = { 0 };
    int rc = EXIT_OK, have = 0;
    long done = 0;
    while (!got_stop) {
        int n = vk_top_sample(have ? &prev : NULL, &cur);
        if (n < 0) {
            rc = n;
            break;
        }
        vk_top_free(&prev);
        prev = cur;
        have = 1;
        done++;
        vk_top_sort(&prev, o->key, o->reverse);
        draw(&prev, o);
        if (o->iterations && done >= o->iterations)
            break;
        /* keys until the next sample is due */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double left = o->delay - ((double)(t1.tv_sec - t0.tv_sec) +
                                      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
            if (left <= 0 || got_stop)
                break;
            struct pollfd p = { .fd = 0, .events = POLLIN };
            int pr = poll(&p, 1, (int)(left * 1000) + 1);
            if (pr < 0 && errno == EINTR) {
                if (got_winch) {
                    got_winch = 0;
                    draw(&prev, o);
                }
                continue;
            }
            if (pr <= 0)
                continue;
            char c;
            if (read(0, &c, 1) != 1) {
                got_stop = 1;          /* the terminal went away */
                break;
            }
            if (c == 'q' || c == 'Q')
                got_stop = 1;
            else if (c == ' ' || c == '\n')
                break;
            else if (c == 'R')
                o->reverse = !o->reverse;
            for (size_t k = 0; k < N_KEYS; k++)
                if (c == keys[k].letter)
                    o->key = keys[k].key;
            if (!got_stop) {
                vk_top_sort(&prev, o->key, o->reverse);
                draw(&prev, o);
            }
        }
    }
    vk_top_free(&prev);
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    tcsetattr(0, TCSANOW, &old);
    return rc < 0 ? cli_fail(rc) : EXIT_OK;
}

int cmd_top(int argc, char **argv)
{
    bool batch = false, json = false;
    struct top_opts o = { .iterations = 0, .delay = 3, .key = VK_TOP_BY_ID };
    const struct cli_opt opts[] = {
        OPT_BOOL('b', "batch", &batch, "print plain lines, no screen handling (the default when\n"
                 "standard input or output is not a terminal)"),
        OPT_CALLBACK('d', "delay", &o, "SECS", "seconds between samples (default 3; fractions allowed)",
                     opt_delay),
        OPT_CALLBACK('i', "iterations", &o, "N", "stop after N samples (default: until q or Ctrl-C)",
                     opt_iterations),
        OPT_CALLBACK('s', "sort", &o, "KEY", "sort by id (default), name, state, cpu, time, mem, vcpus,\n"
                     "read, write or net", opt_sort),
        OPT_BOOL(0, "json", &json, "one JSON object per sample, each on one line (implies -b)"),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "top", "",
        "Show every running VM's resource use, as xentop: state, CPU time and CPU %\n"
        "of its vCPU threads, configured memory and QEMU's resident memory, vCPUs,\n"
        "block read/write operations and KiB (QMP query-blockstats) and network\n"
        "KiB received/sent when the NICs are tap devices (bridge=); '-' where a\n"
        "figure is unknown (user-mode NICs keep no counters).  The first sample's\n"
        "CPU % is the average since QEMU started.  On a terminal the view is\n"
        "redrawn every SECS; keys sort it (n s c t m v r w x i, R reverses) and q\n"
        "quits.", 0, 0 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    if (batch || json || !isatty(0) || !isatty(1))
        return run_batch(&o, json);
    return run_interactive(&o);
}
