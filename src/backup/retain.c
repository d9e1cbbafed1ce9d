/* Retention policies (retain.h): which snapshots a prune keeps, and why.
 * Calendar arithmetic is done here on integers (proleptic Gregorian, UTC,
 * after Howard Hinnant's days_from_civil/civil_from_days) rather than
 * through gmtime/timegm: it cannot fail for any 64-bit time, needs no
 * time zone, and makes the result the same on every host. */
#include "backup/retain.h"

#include <errno.h>

static const char *const rule_names[VK_BK_NRULES] = {
    "last", "hourly", "daily", "weekly", "monthly", "yearly",
};

const char *vk_bk_rule_name(int rule)
{
    return rule >= 0 && rule < VK_BK_NRULES ? rule_names[rule] : "?";
}

/* a / b rounded towards minus infinity (b > 0). */
static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return a % b < 0 ? q - 1 : q;
}

/* The year and month (1-12) of day number days (0: 1970-01-01). */
static void civil(int64_t days, int64_t *y, int *m)
{
    int64_t z = days + 719468;                  /* days since 0000-03-01 */
    int64_t era = floordiv(z, 146097);          /* 400-year cycles */
    int64_t doe = z - era * 146097;             /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);     /* from March 1 */
    int64_t mp = (5 * doy + 2) / 153;           /* 0 = March */
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* The day number of y-m-d (m 1-12, d 1-31). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floordiv(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

int64_t vk_bk_period(int rule, int64_t t)
{
    int64_t days = floordiv(t, 86400), y;
    int m;
    switch (rule) {
    case VK_BK_KEEP_HOURLY:
        return floordiv(t, 3600);
    case VK_BK_KEEP_DAILY:
        return days;
    case VK_BK_KEEP_WEEKLY:
        /* ISO weeks run Monday to Sunday, so (ISO year, week) names the
         * same days as the Monday that starts them: day 0 was a
         * Thursday, day -3 the Monday of its week. */
        return floordiv(days + 3, 7);
    case VK_BK_KEEP_MONTHLY:
        civil(days, &y, &m);
        return y * 12 + (m - 1);
    case VK_BK_KEEP_YEARLY:
        civil(days, &y, &m);
        return y;
    default:
        return t;
    }
}

void vk_bk_retain(const int64_t *t, size_t n, const struct vk_bk_policy *p,
                  struct vk_bk_verdict *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (struct vk_bk_verdict){ .rule = -1 };
    for (int rule = 0; rule < VK_BK_NRULES && n; rule++) {
        unsigned long want = p->keep[rule], got = 0;
        int64_t last = 0;
        bool seen = false;
        for (size_t i = n; want && i-- > 0;) {
            /* --keep-last: every snapshot is its own period, even two
             * made in one second */
            int64_t per = rule == VK_BK_KEEP_LAST ? (int64_t)i : vk_bk_period(rule, t[i]);
            if (seen && per == last)
                continue;       /* not the newest of its period */
            seen = true;
            last = per;
            if (out[i].rule >= 0)
                continue;       /* an earlier rule kept it: not counted */
            out[i] = (struct vk_bk_verdict){ .rule = rule, .nth = ++got };
            if (got == want)
                break;
        }
        /* borg >= 1.2: a rule short of its N keeps the oldest snapshot,
         * which then ages until newer ones fill the rule */
        if (got < want && out[0].rule < 0)
            out[0] = (struct vk_bk_verdict){ .rule = rule, .nth = ++got, .oldest = true };
    }
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int vk_bk_id_time(const char *id, int64_t *t)
{
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, mo, d, h, mi, s;
    /* digits() stops at the first non-digit, so a short id (its NUL)
     * fails before anything past it is read */
    if (digits(id, 4, &y) < 0 || digits(id + 4, 2, &mo) < 0 || digits(id + 6, 2, &d) < 0 ||
        id[8] != 'T' || digits(id + 9, 2, &h) < 0 || digits(id + 11, 2, &mi) < 0 ||
        digits(id + 13, 2, &s) < 0)
        return -EINVAL;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || s > 59)
        return -EINVAL;
    *t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return 0;
}
