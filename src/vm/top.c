/* vmkit top: sampling every VM's CPU, memory, block and network use. */
#include "vm/top.h"
#include "vm/qmp.h"
#include "util/err.h"
#include "util/str.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* QMP waits: a VM that does not answer within this is shown without
 * block figures rather than holding up every other VM's line. */
#define TOP_QMP_MS 1000
#define TOP_MAX_VCPUS 512

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A non-negative JSON integer member of o, else -1. */
static int64_t json_count(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
}

/* a += b where either may be unknown (-1): unknown stays unknown. */
static void add_count(int64_t *a, int64_t b)
{
    if (*a < 0 || b < 0 || b > INT64_MAX - *a)
        *a = -1;
    else
        *a += b;
}

/* Contract in top.h. */
int vk_top_from_qmp(struct vk_top_vm *v, const json_t *blockstats, const json_t *cpus,
                    pid_t *tids, int max)
{
    if (json_is_array(blockstats)) {
        size_t n = json_array_size(blockstats), k = 0;
        struct vk_top_disk *d = n ? calloc(n, sizeof *d) : NULL;
        if (n && !d)
            return vk_error(-ENOMEM, "out of memory");
        v->rd_ops = v->wr_ops = v->rd_bytes = v->wr_bytes = 0;
        for (size_t i = 0; i < n; i++) {
            /* the device's own figures; "parent" (the image file node
             * below it) counts the same requests again */
            json_t *e = json_array_get(blockstats, i), *st = json_object_get(e, "stats");
            if (!json_is_object(st))
                continue;
            const char *dev = json_string_value(json_object_get(e, "device"));
            if (!dev || !*dev)
                dev = json_string_value(json_object_get(e, "qdev"));
            snprintf(d[k].device, sizeof d[k].device, "%s", dev ? dev : "?");
            d[k].rd_ops = json_count(st, "rd_operations");
            d[k].wr_ops = json_count(st, "wr_operations");
            d[k].rd_bytes = json_count(st, "rd_bytes");
            d[k].wr_bytes = json_count(st, "wr_bytes");
            add_count(&v->rd_ops, d[k].rd_ops);
            add_count(&v->wr_ops, d[k].wr_ops);
            add_count(&v->rd_bytes, d[k].rd_bytes);
            add_count(&v->wr_bytes, d[k].wr_bytes);
            k++;
        }
        free(v->disks);
        v->disks = d;
        v->n_disks = (int)k;
    }
    int nt = 0;
    for (size_t i = 0; json_is_array(cpus) && i < json_array_size(cpus) && nt < max; i++) {
        json_t *t = json_object_get(json_array_get(cpus, i), "thread-id");
        if (!json_is_integer(t) || json_integer_value(t) <= 0 ||
            json_integer_value(t) > 0x7fffffff)
            continue;
        pid_t tid = (pid_t)json_integer_value(t);
        int dup = 0;
        for (int j = 0; j < nt; j++)
            dup |= tids[j] == tid;
        if (!dup)
            tids[nt++] = tid;
    }
    return nt;
}

/* One VM's QMP conversation, run side by side with the others'. */
struct ask {
    struct vk_qmp *q;           /* NULL: not asked or finished */
    int replies;                /* answers so far (capabilities first) */
    json_t *bs, *cpus;
};

/* The three commands, sent at once on connecting: QEMU answers them in
 * order after its greeting, so a VM costs one wake-up of QEMU, not four
 * round trips. */
static const char ask_text[] = "{\"execute\":\"qmp_capabilities\"}\n"
                               "{\"execute\":\"query-blockstats\"}\n"
                               "{\"execute\":\"query-cpus-fast\"}\n";

/* Connect to dir's CLI QMP socket and send ask_text.  NULL when nothing
 * listens (a VM ending, or one that is starting). */
static struct vk_qmp *ask_start(const char *dir)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (vk_pathf(sa.sun_path, sizeof sa.sun_path, "%s/qmp-cli.sock", dir) < 0)
        return NULL;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return NULL;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        send(fd, ask_text, sizeof ask_text - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof ask_text - 1)) {
        close(fd);
        return NULL;
    }
    return vk_qmp_new(fd, sa.sun_path);
}

/* Take what arrived on a's socket; close it when all is answered or it
 * failed. */
static void ask_read(struct ask *a)
{
    char buf[16384];
    ssize_t n = read(vk_qmp_fd(a->q), buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    int r = n > 0 ? vk_qmp_feed(a->q, buf, (size_t)n) : -1;
    struct vk_qmp_msg m;
    while (r >= 0 && (r = vk_qmp_next(a->q, &m)) != 0) {
        if (r < 0) {
            if (r == -EPROTO)
                r = 0;          /* a garbled line is skipped */
            continue;
        }
        if (m.kind == VK_QMP_RETURN || m.kind == VK_QMP_ERROR) {
            json_t *d = m.kind == VK_QMP_RETURN ? json_incref(m.data) : NULL;
            if (a->replies == 1)
                a->bs = d;
            else if (a->replies == 2)
                a->cpus = d;
            else
                json_decref(d);
            a->replies++;
        }
        vk_qmp_msg_free(&m);
        if (a->replies == 3)
            break;
    }
    if (r < 0 || a->replies == 3) {
        vk_qmp_close(a->q);
        a->q = NULL;
    }
}

/* Ask every running VM of v[0..n) for its block stats and vCPU threads,
 * all at once, waiting at most TOP_QMP_MS for the slowest. */
static void ask_all(const struct vk_vminfo *info, struct vk_top_vm *v, struct ask *a, int n)
{
    struct pollfd *p = calloc((size_t)n, sizeof *p);
    int *who = calloc((size_t)n, sizeof *who);
    for (int i = 0; p && who && i < n; i++)
        if (v[i].pid)
            a[i].q = ask_start(info[i].dir);
    double end = now_mono() + TOP_QMP_MS / 1000.0;
    for (;;) {
        int k = 0;
        for (int i = 0; p && who && i < n; i++)
            if (a[i].q) {
                p[k] = (struct pollfd){ .fd = vk_qmp_fd(a[i].q), .events = POLLIN };
                who[k++] = i;
            }
        double left = end - now_mono();
        if (!k || left <= 0)
            break;
        int pr = poll(p, (nfds_t)k, (int)(left * 1000) + 1);
        if (pr < 0 && errno != EINTR)
            break;
        for (int j = 0; pr > 0 && j < k; j++)
            if (p[j].revents)
                ask_read(&a[who[j]]);
    }
    for (int i = 0; i < n; i++) {
        vk_qmp_close(a[i].q);         /* the ones that did not answer in time */
        a[i].q = NULL;
    }
    free(p);
    free(who);
}

/* QEMU's resident set in bytes (/proc/PID/statm), or -1. */
static int64_t proc_rss(pid_t pid)
{
    char path[64], buf[256];
    unsigned long long size, res;
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    if (vk_rt_read(path, "statm", buf, sizeof buf) <= 0 ||
        sscanf(buf, "%llu %llu", &size, &res) != 2)
        return -1;
    return (int64_t)res * sysconf(_SC_PAGESIZE);
}

/* A counter file of /sys/class/net/IF/statistics, or -1. */
static int64_t net_stat(const char *ifname, const char *what)
{
    char dir[256], buf[64];
    if (snprintf(dir, sizeof dir, "/sys/class/net/%s/statistics", ifname) >= (int)sizeof dir ||
        vk_rt_read(dir, what, buf, sizeof buf) <= 0 || !isdigit((unsigned char)buf[0]))
        return -1;
    return (int64_t)strtoll(buf, NULL, 10);
}

/* The guest's network bytes when each of its want NICs is a tap device:
 * QEMU holds one /dev/net/tun descriptor per tap, whose fdinfo names the
 * interface ("iff:\ttap0").  The tap's transmit is the guest's receive. */
static void tap_counters(pid_t pid, int want, int64_t *rx, int64_t *tx)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    int found = 0;
    int64_t r = 0, t = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char link[64], fdinfo[64], info[1024];
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        ssize_t l = readlinkat(dirfd(d), e->d_name, link, sizeof link - 1);
        if (l < 0 || (link[l] = 0, strcmp(link, "/dev/net/tun")))
            continue;
        snprintf(fdinfo, sizeof fdinfo, "/proc/%d/fdinfo", (int)pid);
        if (vk_rt_read(fdinfo, e->d_name, info, sizeof info) <= 0)
            continue;
        const char *iff = strstr(info, "iff:");
        if (!iff)
            continue;
        iff += 4 + strspn(iff + 4, " \t");
        char ifname[32];
        snprintf(ifname, sizeof ifname, "%.*s", (int)strcspn(iff, " \t\n"), iff);
        if (!*ifname || strchr(ifname, '/'))
            continue;
        add_count(&r, net_stat(ifname, "tx_bytes"));
        add_count(&t, net_stat(ifname, "rx_bytes"));
        found++;
    }
    closedir(d);
    if (found == want) {
        *rx = r;
        *tx = t;
    }
}

static const struct vk_top_vm *find_prev(const struct vk_top *prev, const char *name)
{
    for (int i = 0; prev && i < prev->n; i++)
        if (!strcmp(prev->vm[i].name, name))
            return &prev->vm[i];
    return NULL;
}

/* v's CPU time and CPU %: of the vCPU threads tids when there are any
 * (and all could be read), else of the whole process. */
static void sample_cpu(struct vk_top_vm *v, const pid_t *tids, int nt, const struct vk_top *prev)
{
    double secs = 0, avg = 0, s, age;
    int ok = nt > 0;
    for (int i = 0; i < nt && ok; i++) {
        ok = vk_proc_task_times(v->pid, tids[i], &s, &age) == 0;
        secs += s;
        avg += age > 0 ? s / age : 0;
    }
    v->cpu_vcpus = ok;
    if (!ok) {
        nt = 1;
        secs = avg = 0;
        if (vk_proc_task_times(v->pid, 0, &secs, &age) < 0)
            return;
        avg = age > 0 ? secs / age : 0;
    }
    v->when = now_mono();
    v->cpu_secs = secs;
    const struct vk_top_vm *p = find_prev(prev, v->name);
    double pct = avg * 100;
    if (p && p->pid == v->pid && p->start == v->start && p->cpu_vcpus == v->cpu_vcpus &&
        p->cpu_secs >= 0 && v->when - p->when > 0.001)
        pct = (secs - p->cpu_secs) / (v->when - p->when) * 100;
    /* a thread runs at most all the time there was: more is the clock
     * tick's rounding (times are counted in 1/HZ s) */
    if (pct > 100.0 * nt)
        pct = 100.0 * nt;
    v->cpu_pct = pct < 0 ? 0 : pct;
}

/* What the runtime directory says of one VM; figures unknown yet. */
static void vm_base(const struct vk_vminfo *info, struct vk_top_vm *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", info->name);
    v->id = info->id;
    v->state = info->state;
    v->pid = info->pid;
    v->vcpus = info->cfg.vcpus;
    v->mem_mib = info->cfg.memory;
    v->nets = (int)info->cfg.n_vifs;
    v->rss = v->rd_ops = v->wr_ops = v->rd_bytes = v->wr_bytes = v->net_rx = v->net_tx = -1;
    v->cpu_secs = v->cpu_pct = -1;
    v->n_disks = -1;
    if (v->pid && vk_proc_starttime(v->pid, &v->start) < 0)
        v->pid = 0;                         /* ended meanwhile */
}

/* The rest of one VM's figures, with QEMU's answers a. */
static void vm_figures(const struct vk_vminfo *info, const struct ask *a,
                       const struct vk_top *prev, struct vk_top_vm *v)
{
    pid_t tids[TOP_MAX_VCPUS];
    int nt = vk_top_from_qmp(v, a->bs, a->cpus, tids, TOP_MAX_VCPUS);
    if (!v->pid)
        return;
    sample_cpu(v, tids, nt < 0 ? 0 : nt, prev);
    v->rss = proc_rss(v->pid);
    int taps = 0;
    for (unsigned i = 0; i < info->cfg.n_vifs; i++)
        taps += info->cfg.vifs[i].type == VK_VIF_BRIDGE;
    if (!v->nets)
        v->net_rx = v->net_tx = 0;          /* no NIC: nothing went through */
    else if (taps == v->nets)
        tap_counters(v->pid, taps, &v->net_rx, &v->net_tx);
}

/* Contract in top.h. */
int vk_top_sample(const struct vk_top *prev, struct vk_top *out)
{
    memset(out, 0, sizeof *out);
    struct vk_vminfo *info;
    int n = vk_rt_list(0, &info);
    if (n < 0)
        return n;
    out->time = (double)time(NULL);
    if (!n) {
        vk_vminfo_list_free(info, 0);
        return 0;
    }
    out->vm = calloc((size_t)n, sizeof *out->vm);
    if (!out->vm) {
        vk_vminfo_list_free(info, n);
        return vk_error(-ENOMEM, "out of memory");
    }
    struct ask *a = calloc((size_t)n, sizeof *a);
    if (!a) {
        free(out->vm);
        out->vm = NULL;
        vk_vminfo_list_free(info, n);
        return vk_error(-ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++)
        vm_base(&info[i], &out->vm[i]);
    ask_all(info, out->vm, a, n);
    for (int i = 0; i < n; i++) {
        vm_figures(&info[i], &a[i], prev, &out->vm[i]);
        json_decref(a[i].bs);
        json_decref(a[i].cpus);
    }
    free(a);
    out->n = n;
    vk_vminfo_list_free(info, n);
    /* a VM that went away meanwhile left a failed QMP connect behind */
    vk_error_clear();
    return n;
}

/* Contract in top.h. */
void vk_top_free(struct vk_top *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n; i++)
        free(t->vm[i].disks);
    free(t->vm);
    memset(t, 0, sizeof *t);
}

/* qsort has no context argument: the key travels with each element. */
struct keyed {
    const struct vk_top_vm *v;
    enum vk_top_key key;
    int reverse;
};

static double figure(const struct vk_top_vm *v, enum vk_top_key k)
{
    switch (k) {
    case VK_TOP_BY_CPU:     return v->cpu_pct;
    case VK_TOP_BY_CPUTIME: return v->cpu_secs;
    case VK_TOP_BY_MEM:     return v->rss >= 0 ? (double)v->rss : (double)v->mem_mib * 1048576;
    case VK_TOP_BY_VCPUS:   return (double)v->vcpus;
    case VK_TOP_BY_READ:    return (double)v->rd_bytes;
    case VK_TOP_BY_WRITE:   return (double)v->wr_bytes;
    case VK_TOP_BY_NET:
        return v->net_rx < 0 || v->net_tx < 0 ? -1 : (double)v->net_rx + (double)v->net_tx;
    default:                return 0;
    }
}

static int cmp_keyed(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    const struct vk_top_vm *p = x->v, *q = y->v;
    int c = 0;
    switch (x->key) {
    case VK_TOP_BY_ID:    break;
    case VK_TOP_BY_NAME:  c = strcmp(p->name, q->name); break;
    case VK_TOP_BY_STATE: c = (int)p->state - (int)q->state; break;
    default: {
        double f = figure(p, x->key), g = figure(q, x->key);
        c = f > g ? -1 : f < g ? 1 : 0;     /* largest first; unknown (-1) last */
    }
    }
    c = c < 0 ? -1 : c > 0;
    if (x->reverse)
        c = -c;
    return c ? c : (p->id > q->id) - (p->id < q->id);
}

/* Contract in top.h. */
void vk_top_sort(struct vk_top *t, enum vk_top_key key, int reverse)
{
    if (t->n < 2)
        return;
    struct keyed *k = malloc((size_t)t->n * sizeof *k);
    struct vk_top_vm *sorted = malloc((size_t)t->n * sizeof *sorted);
    if (!k || !sorted) {            /* unsorted is still a right answer */
        free(k);
        free(sorted);
        return;
    }
    for (int i = 0; i < t->n; i++)
        k[i] = (struct keyed){ &t->vm[i], key, reverse };
    qsort(k, (size_t)t->n, sizeof *k, cmp_keyed);
    for (int i = 0; i < t->n; i++)
        sorted[i] = *k[i].v;
    memcpy(t->vm, sorted, (size_t)t->n * sizeof *sorted);
    free(k);
    free(sorted);
}
