/* Retention policies for backup prune, as borg's prune applies them
 * (--keep-last, --keep-hourly ... --keep-yearly).  Pure arithmetic over
 * snapshot times: no repository, no clock, no time zone (periods are
 * UTC), so it is unit-tested directly (tests/unit/t_retain.c). */
#ifndef VK_BACKUP_RETAIN_H
#define VK_BACKUP_RETAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The rules, in the order they are applied (borg's: finest first). */
enum vk_bk_rule {
    VK_BK_KEEP_LAST,
    VK_BK_KEEP_HOURLY,
    VK_BK_KEEP_DAILY,
    VK_BK_KEEP_WEEKLY,      /* ISO 8601 weeks, Monday to Sunday (%G-%V) */
    VK_BK_KEEP_MONTHLY,
    VK_BK_KEEP_YEARLY,
    VK_BK_NRULES
};

/* How many periods each rule keeps; 0: the rule keeps nothing. */
struct vk_bk_policy {
    unsigned long keep[VK_BK_NRULES];
};

/* Why a snapshot stays: rule < 0 means it is removed; else it is the
 * nth (from 1) snapshot rule kept, and oldest is set when the rule kept
 * it as the oldest snapshot because it could not find its N periods
 * (borg's "[oldest]"). */
struct vk_bk_verdict {
    int rule;
    unsigned long nth;
    bool oldest;
};

/* "last", "hourly", "daily", "weekly", "monthly", "yearly" ("?" outside). */
const char *vk_bk_rule_name(int rule);

/* Decide, for n snapshots whose creation times (Unix seconds) are t[0..n)
 * in ascending order (oldest first; equal times: the later index is the
 * newer), which policy p keeps, into out[0..n).  The algorithm is borg's:
 * each rule, in enum order, walks the snapshots newest first; the newest
 * snapshot of each period (UTC hour, day, ISO week, month, year; for
 * --keep-last each snapshot is its own period) that no earlier rule kept
 * is kept, until the rule has kept its N; a period whose newest snapshot
 * an earlier rule kept is passed over without counting.  A rule that ran
 * out of snapshots before keeping N also keeps the oldest snapshot.
 * Stable under pruning: removing any of the snapshots it removes does
 * not change what it keeps, so an interrupted prune, run again, removes
 * the rest and nothing more. */
void vk_bk_retain(const int64_t *t, size_t n, const struct vk_bk_policy *p,
                  struct vk_bk_verdict *out);

/* The period of rule containing time t, as a number that is equal for two
 * times exactly when they fall in the same UTC hour, day, ISO week, month
 * or year (for VK_BK_KEEP_LAST: the second). */
int64_t vk_bk_period(int rule, int64_t t);

/* The creation time a snapshot id starts with ("YYYYMMDDTHHMMSS", UTC, as
 * save makes them) into *t.  -EINVAL (no vk_error: the caller names the
 * snapshot) when id does not start with a valid date and time. */
int vk_bk_id_time(const char *id, int64_t *t);

#endif
