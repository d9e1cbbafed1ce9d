/* Unit tests of the prune retention policies (backup/retain.c): periods
 * across hour, day, ISO week, month and year boundaries (hand-computed
 * from a calendar, then checked against gmtime_r/strftime %G-%V over
 * many times), and which snapshots each combination of rules keeps, with
 * the rule and count borg reports. */
#include "tap.h"

#include "backup/retain.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The time of "YYYYMMDDTHHMMSS" (aborts on a typo in the test). */
static int64_t T(const char *s)
{
    int64_t t;
    if (vk_bk_id_time(s, &t) < 0)
        abort();
    return t;
}

static bool same(int rule, const char *a, const char *b)
{
    return vk_bk_period(rule, T(a)) == vk_bk_period(rule, T(b));
}

/* Run policy p over the n times (ascending) and render the verdicts as
 * "rule#nth" or "-" (removed), oldest first, space-separated. */
static const char *run(const char *const *ts, size_t n, struct vk_bk_policy p)
{
    static char buf[512];
    int64_t t[16] = { 0 };
    struct vk_bk_verdict v[16] = { { 0 } };
    for (size_t i = 0; i < n; i++)
        t[i] = T(ts[i]);
    vk_bk_retain(t, n, &p, v);
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        char one[48];
        if (v[i].rule < 0)
            snprintf(one, sizeof one, "%s-", i ? " " : "");
        else
            snprintf(one, sizeof one, "%s%s#%lu%s", i ? " " : "", vk_bk_rule_name(v[i].rule),
                     v[i].nth, v[i].oldest ? "[oldest]" : "");
        strcat(buf, one);
    }
    return buf;
}

#define POL(...) ((struct vk_bk_policy){ .keep = { __VA_ARGS__ } })
#define N(a) (sizeof(a) / sizeof *(a))
#define RUN_IS(ts, pol, want, desc)                                                  \
    do {                                                                             \
        const char *got_ = run(ts, N(ts), pol);                                      \
        CHECK(!strcmp(got_, want), "%s: %s", desc, got_);                            \
    } while (0)

int main(void)
{
    int64_t t;
    /* ids to Unix time: known instants */
    CHECK(vk_bk_id_time("19700101T000000Z-x", &t) == 0 && t == 0, "the epoch");
    CHECK(vk_bk_id_time("20000101T000000_000000Z-ab", &t) == 0 && t == 946684800, "2000-01-01");
    CHECK(vk_bk_id_time("20380119T031407", &t) == 0 && t == 2147483647, "2038-01-19T03:14:07");
    CHECK(vk_bk_id_time("20240229T120000Z", &t) == 0 && t == 1709208000, "leap day 2024");
    CHECK(vk_bk_id_time("20230229T120000Z", &t) < 0, "no 29 February 2023");
    CHECK(vk_bk_id_time("19000229T000000Z", &t) < 0, "no 29 February 1900");
    CHECK(vk_bk_id_time("20000229T000000Z", &t) == 0, "29 February 2000");
    CHECK(vk_bk_id_time("20241301T000000Z", &t) < 0, "month 13");
    CHECK(vk_bk_id_time("20240100T000000Z", &t) < 0, "day 0");
    CHECK(vk_bk_id_time("20240431T000000Z", &t) < 0, "31 April");
    CHECK(vk_bk_id_time("20240101T240000Z", &t) < 0, "hour 24");
    CHECK(vk_bk_id_time("20240101X000000Z", &t) < 0, "no T");
    CHECK(vk_bk_id_time("2024010", &t) < 0 && vk_bk_id_time("", &t) < 0, "short ids");
    CHECK(vk_bk_id_time("2024-01-01T00", &t) < 0, "not the id form");

    /* periods at their boundaries */
    CHECK(same(VK_BK_KEEP_HOURLY, "20261130T130000", "20261130T135959"), "hour: 13:00 = 13:59:59");
    CHECK(!same(VK_BK_KEEP_HOURLY, "20261130T135959", "20261130T140000"), "hour: 13:59:59 != 14:00");
    CHECK(same(VK_BK_KEEP_DAILY, "20260101T000000", "20260101T235959"), "day: whole");
    CHECK(!same(VK_BK_KEEP_DAILY, "20251231T235959", "20260101T000000"), "day: across the year");
    CHECK(!same(VK_BK_KEEP_DAILY, "20240228T120000", "20240229T120000"), "day: leap day");
    /* 2026-01-01 is a Thursday: ISO week 2026-W01 is Mon 2025-12-29 ..
     * Sun 2026-01-04 */
    CHECK(same(VK_BK_KEEP_WEEKLY, "20251229T000000", "20260104T235959"), "week 2026-W01 spans the new year");
    CHECK(!same(VK_BK_KEEP_WEEKLY, "20251228T235959", "20251229T000000"), "Sun 2025-W52 != Mon 2026-W01");
    CHECK(!same(VK_BK_KEEP_WEEKLY, "20260104T235959", "20260105T000000"), "Sun W01 != Mon W02");
    /* 2020 has 53 ISO weeks: 2020-W53 is Mon 2020-12-28 .. Sun 2021-01-03 */
    CHECK(same(VK_BK_KEEP_WEEKLY, "20201228T000000", "20210103T235959"), "2020-W53 into 2021");
    CHECK(!same(VK_BK_KEEP_WEEKLY, "20210103T235959", "20210104T000000"), "2021-W01 starts 4 January");
    /* 1970-01-01 (day 0) is a Thursday of the week from Mon 1969-12-29 */
    CHECK(same(VK_BK_KEEP_WEEKLY, "19691229T000000", "19700104T235959"), "the week of the epoch");
    CHECK(!same(VK_BK_KEEP_WEEKLY, "19691228T235959", "19691229T000000"), "before the epoch too");
    CHECK(same(VK_BK_KEEP_MONTHLY, "20240201T000000", "20240229T235959"), "month: February 2024");
    CHECK(!same(VK_BK_KEEP_MONTHLY, "20240229T235959", "20240301T000000"), "month: leap February ends");
    CHECK(!same(VK_BK_KEEP_MONTHLY, "20251231T235959", "20260101T000000"), "month: across the year");
    CHECK(!same(VK_BK_KEEP_MONTHLY, "20250115T000000", "20260115T000000"), "month: January of two years");
    CHECK(same(VK_BK_KEEP_YEARLY, "20260101T000000", "20261231T235959"), "year: whole");
    CHECK(!same(VK_BK_KEEP_YEARLY, "20251231T235959", "20260101T000000"), "year: boundary");

    /* the same periods as gmtime_r and strftime (%G-%V is borg's week)
     * over times spread across 1900..2100, every 7h13m17s and then some */
    int bad = 0;
    srand(14);
    for (int64_t u = -2208988800LL; u < 4102444800LL; u += 26000 + rand() % 1000) {
        int64_t w = u + rand() % 3600;
        time_t a = (time_t)u, b = (time_t)w;
        struct tm ta, tb;
        char sa[32], sb[32];
        gmtime_r(&a, &ta);
        gmtime_r(&b, &tb);
        const char *fmt[] = { NULL, "%Y%m%d%H", "%Y%m%d", "%G-%V", "%Y-%m", "%Y" };
        for (int r = VK_BK_KEEP_HOURLY; r < VK_BK_NRULES; r++) {
            /* compare u with a time up to an hour after it, and with
             * itself shifted by a week/month-ish step */
            int64_t x = r == VK_BK_KEEP_HOURLY ? w : u + (int64_t)(rand() % 4000000);
            time_t c = (time_t)x;
            struct tm tc;
            gmtime_r(&c, &tc);
            strftime(sa, sizeof sa, fmt[r], &ta);
            strftime(sb, sizeof sb, fmt[r], r == VK_BK_KEEP_HOURLY ? &tb : &tc);
            bool want = !strcmp(sa, sb), got = vk_bk_period(r, u) == vk_bk_period(r, x);
            if (want != got && bad++ < 5)
                printf("# %s: %lld vs %lld: strftime %s/%s\n", vk_bk_rule_name(r), (long long)u,
                       (long long)x, sa, sb);
        }
    }
    CHECK(bad == 0, "periods agree with gmtime_r/strftime across 1900-2100 (%d differ)", bad);

    /* which snapshots each policy keeps (oldest first) */
    const char *days[] = { "20251230T100000", "20251230T200000", "20251231T090000",
                           "20260101T080000", "20260101T120000", "20260102T110000" };
    RUN_IS(days, POL(0, 0, 3), "- - daily#3 - daily#2 daily#1",
           "--keep-daily 3: the newest of each of the 3 newest days");
    RUN_IS(days, POL(0, 0, 10), "daily#5[oldest] daily#4 daily#3 - daily#2 daily#1",
           "--keep-daily 10 with 4 days: all 4, and the oldest snapshot");
    const char *last[] = { "20260101T080000", "20260102T080000", "20260103T080000", "20260103T200000" };
    RUN_IS(last, POL(2, 0, 2), "daily#2 daily#1 last#2 last#1",
           "--keep-last 2 --keep-daily 2: a day whose newest --keep-last kept does not count");
    RUN_IS(last, POL(0, 0, 2), "- daily#2 - daily#1", "--keep-daily 2 alone");
    RUN_IS(last, POL(5), "last#4 last#3 last#2 last#1", "--keep-last 5 keeps all 4");
    RUN_IS(last, POL(0), "- - - -", "no rule keeps nothing");
    const char *week[] = { "20251228T100000", "20251229T100000", "20260104T100000", "20260105T100000" };
    RUN_IS(week, POL(0, 0, 0, 2), "- - weekly#2 weekly#1",
           "--keep-weekly 2 across the new year: 2025-12-29 is in 2026-W01 with 01-04");
    RUN_IS(week, POL(0, 0, 0, 3), "weekly#3 - weekly#2 weekly#1", "--keep-weekly 3");
    const char *oneweek[] = { "20260105T100000", "20260106T100000", "20260107T100000" };
    RUN_IS(oneweek, POL(0, 0, 0, 3), "weekly#2[oldest] - weekly#1",
           "--keep-weekly 3 short of weeks keeps the oldest (borg 1.2)");
    const char *months[] = { "20251231T230000", "20260101T010000", "20260131T235959", "20260201T000000" };
    RUN_IS(months, POL(0, 0, 0, 0, 2), "- - monthly#2 monthly#1", "--keep-monthly 2");
    RUN_IS(months, POL(0, 0, 0, 0, 0, 2), "yearly#2 - - yearly#1", "--keep-yearly 2");
    RUN_IS(months, POL(0, 0, 0, 0, 2, 2), "yearly#1 - monthly#2 monthly#1",
           "--keep-monthly 2 --keep-yearly 2: 2026's newest was kept by monthly");
    const char *hours[] = { "20261130T130000", "20261130T135959", "20261130T140000" };
    RUN_IS(hours, POL(0, 2), "- hourly#2 hourly#1", "--keep-hourly 2 at the hour's edge");
    const char *same_s[] = { "20261130T130000", "20261130T130000", "20261130T130000", "20261130T130000" };
    RUN_IS(same_s, POL(3), "- last#3 last#2 last#1", "--keep-last 3: one second, still 3 snapshots");
    RUN_IS(same_s, POL(0, 0, 1), "- - - daily#1", "--keep-daily 1 in one second: the newest");
    const char *gfs[] = { "20250615T000000", "20251231T230000", "20260315T000000", "20260430T000000",
                          "20260501T000000", "20260510T000000", "20260511T000000", "20260512T000000",
                          "20260512T060000" };
    /* last 1: 05-12 06:00.  daily 3: 05-12 passes (kept), 05-11 #1,
     * 05-10 #2, 05-01 #3.  weekly 2: W20 (05-11..) newest 05-12 06 kept,
     * passes; W19 (05-04..05-10) 05-10 kept, passes; W18 (04-27..05-03)
     * 05-01 kept, passes; W11 03-15 #1; 2026-W01 12-31 #2.  monthly 3:
     * May kept; April 04-30 #1; March kept; 2025-12 kept; 06-15 #2 short:
     * oldest already kept.  yearly 1: 2026 kept, passes; 2025 12-31 kept,
     * passes; ends short, oldest kept. */
    RUN_IS(gfs, POL(1, 0, 3, 2, 3, 1),
           "monthly#2 weekly#2 weekly#1 monthly#1 daily#3 daily#2 daily#1 - last#1",
           "a grandfather-father-son policy");
    CHECK(run(NULL, 0, POL(1, 1, 1, 1, 1, 1))[0] == 0, "no snapshots");
    return tap_done();
}
