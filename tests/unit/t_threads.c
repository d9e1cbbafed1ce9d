/* Two threads per image, four in all, open qcow2 backing chains (top ->
 * mid -> base, ext4 in the base) at the same time, mount them, read a file
 * back and provoke an error: the backing-chain loop check is per thread
 * (a shared stack saw the other thread's images and called the chain a
 * loop), the ext io manager shares nothing between filesystems, and each
 * thread's error message is its own. */
#include "block/blockdev.h"
#include "fs/fs.h"
#include "util/err.h"

#include "tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NTHREADS 4
#define FILE_SIZE (256u << 10)

static char dir[256];
static int iters;

static void content(int img, char *buf)
{
    for (unsigned i = 0; i < FILE_SIZE; i++)
        buf[i] = (char)('a' + (i * 7 + (unsigned)img * 13) % 26);
}

static void path_of(int img, const char *what, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s%d.qcow2", dir, what, img);
}

/* base<img>.qcow2 with ext4 holding /data, then mid and top over it. */
static int make_chain(int img)
{
    char base[512], mid[512], top[512];
    path_of(img, "base", base, sizeof base);
    path_of(img, "mid", mid, sizeof mid);
    path_of(img, "top", top, sizeof top);
    struct vk_create_opts co = { .size = 32u << 20 };
    struct vk_blockdev *bd;
    struct vk_fs *fs;
    struct vk_file *f;
    int r = vk_bd_create(base, "qcow2", &co);
    if (r == 0)
        r = vk_bd_open(base, "qcow2", VK_OPEN_RDWR, &bd);
    if (r < 0)
        return r;
    struct vk_mkfs_opts mo = { .type = "ext4", .reserved_pct = -1 };
    char *buf = malloc(FILE_SIZE);
    if (!buf)
        r = -ENOMEM;
    if (r == 0)
        r = vk_fs_mkfs(bd, &mo);
    if (r == 0)
        r = vk_fs_mount(bd, true, &fs);
    if (r == 0) {
        content(img, buf);
        r = vk_fs_open(fs, "/data", VK_O_WRONLY | VK_O_CREAT, 0644, &f);
        if (r == 0) {
            int64_t n = vk_fs_write(f, buf, FILE_SIZE, 0);
            r = n < 0 ? (int)n : 0;
            int c = vk_fs_close_file(f);
            r = r ? r : c;
        }
        int u = vk_fs_unmount(fs);
        r = r ? r : u;
    }
    free(buf);
    int c = vk_bd_close(bd);
    r = r ? r : c;
    struct vk_create_opts mc = { .size = co.size, .backing_file = base, .backing_format = "qcow2" };
    struct vk_create_opts tc = { .size = co.size, .backing_file = mid, .backing_format = "qcow2" };
    if (r == 0)
        r = vk_bd_create(mid, "qcow2", &mc);
    if (r == 0)
        r = vk_bd_create(top, "qcow2", &tc);
    return r;
}

struct job {
    int img;
    int opened, read_ok, msg_ok;
    char first_error[512];
};

static void *worker(void *arg)
{
    struct job *j = arg;
    char top[512], *want = malloc(FILE_SIZE);
    path_of(j->img, "top", top, sizeof top);
    if (!want)
        return NULL;
    content(j->img, want);
    for (int i = 0; i < iters; i++) {
        struct vk_blockdev *bd;
        struct vk_fs *fs;
        int r = vk_bd_open(top, "qcow2", 0, &bd);
        if (r < 0) {
            if (!j->first_error[0])
                snprintf(j->first_error, sizeof j->first_error, "%s", vk_errmsg());
            continue;
        }
        j->opened++;
        if (vk_fs_mount(bd, false, &fs) == 0) {
            char *data = NULL;
            size_t len = 0;
            if (vk_fs_read_all(fs, "/data", FILE_SIZE, &data, &len) == 0 && len == FILE_SIZE &&
                !memcmp(data, want, FILE_SIZE))
                j->read_ok++;
            free(data);
            /* an error of our own: the message names our image, and only
             * ours, however the other threads fail meanwhile */
            struct vk_stat st;
            char name[64];
            snprintf(name, sizeof name, "top%d.qcow2", j->img);
            if (vk_fs_stat(fs, "/missing", &st, true) == -ENOENT) {
                usleep(100);
                if (strstr(vk_errmsg(), name) && !strstr(vk_errmsg(), j->img ? "top0" : "top1"))
                    j->msg_ok++;
                else if (!j->first_error[0])
                    snprintf(j->first_error, sizeof j->first_error, "message: %s", vk_errmsg());
            }
            vk_fs_unmount(fs);
        } else if (!j->first_error[0]) {
            snprintf(j->first_error, sizeof j->first_error, "%s", vk_errmsg());
        }
        vk_bd_close(bd);
    }
    free(want);
    return NULL;
}

int main(void)
{
    const char *san = getenv("SAN");
    iters = san && *san == '1' ? 20 : 30;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/t_threads.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    bool made = mkdtemp(dir) != NULL;   /* (CHECK evaluates its condition twice) */
    CHECK(made, "scratch directory");
    int r0 = make_chain(0), r1 = make_chain(1);
    CHECK(r0 == 0 && r1 == 0, "two ext4-in-qcow2 backing chains made (%s)",
          r0 || r1 ? vk_errmsg() : "ok");

    pthread_t t[NTHREADS];
    struct job jobs[NTHREADS];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < NTHREADS; i++) {
        jobs[i].img = i % 2;
        int e = pthread_create(&t[i], NULL, worker, &jobs[i]);
        CHECK(e == 0, "thread %d started", i);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < NTHREADS; i++) {
        struct job *j = &jobs[i];
        CHECK(j->opened == iters, "thread %d: %d of %d opens of top%d -> mid -> base succeeded%s%s",
              i, j->opened, iters, j->img, j->first_error[0] ? ": " : "", j->first_error);
        CHECK(j->read_ok == iters, "thread %d: %d of %d reads of /data through ext4 right", i,
              j->read_ok, iters);
        CHECK(j->msg_ok == iters, "thread %d: %d of %d error messages its own", i, j->msg_ok,
              iters);
    }
    char cmd[600];
    if (getenv("T_THREADS_KEEP"))
        return tap_done();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    int rm = system(cmd);
    CHECK(rm == 0, "scratch directory removed");
    return tap_done();
}
