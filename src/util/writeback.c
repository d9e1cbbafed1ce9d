#include "util/writeback.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

/* Between runs when nobody kicks: writeback starts within this of the
 * data being written, not after the kernel's 30 s dirty expiry. */
#define WRITEBACK_PERIOD_MS 20

struct vk_writeback {
    int fd;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool pending;           /* a kick not yet acted on */
    bool stop;
};

static void *writeback_main(void *arg)
{
    struct vk_writeback *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += WRITEBACK_PERIOD_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!w->pending && !w->stop && pthread_cond_timedwait(&w->wake, &w->lock, &until) == 0)
            ;
        if (w->stop)
            break;
        w->pending = false;
        pthread_mutex_unlock(&w->lock);
        sync_file_range(w->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Contract in writeback.h. */
struct vk_writeback *vk_writeback_start(int fd)
{
    struct vk_writeback *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = fd;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, &ca);
    pthread_condattr_destroy(&ca);
    /* the helper takes no signal: they stay the writer's to handle */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&w->thread, NULL, writeback_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    return w;
}

/* Contract in writeback.h. */
void vk_writeback_kick(struct vk_writeback *w, int fd)
{
    if (!w) {
        sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->pending = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

/* Contract in writeback.h. */
void vk_writeback_stop(struct vk_writeback *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
