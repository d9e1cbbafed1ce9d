/* libFuzzer entry point: snapshot ids as backup prune reads them from a
 * repository's file names (vk_bk_id_time, backup/retain.c) and the
 * retention policy over the times they give.  Input: 6 policy bytes (N
 * per rule, 0-7), then ids one per line.  Checks: a parsed time formats
 * back to the id's first 15 characters (years from 1000: %Y has no
 * leading zeroes); no rule keeps more than its N;
 * with any rule, the newest snapshot is kept; and the verdicts are stable
 * under pruning (run again over the kept ones alone, every one is kept
 * for the same rule), which is what makes an interrupted prune safe to
 * run again. */
#include "backup/retain.h"
#include "util/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXN 64

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < VK_BK_NRULES)
        return 0;
    struct vk_bk_policy p = { { 0 } };
    bool any = false;
    for (int i = 0; i < VK_BK_NRULES; i++)
        any |= (p.keep[i] = data[i] % 8) != 0;
    char *s = malloc(size - VK_BK_NRULES + 1);
    if (!s)
        return 0;
    memcpy(s, data + VK_BK_NRULES, size - VK_BK_NRULES);
    s[size - VK_BK_NRULES] = 0;
    int64_t t[MAXN], kt[MAXN];
    size_t n = 0, k = 0;
    for (char *line = s, *next; line && n < MAXN; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        if (vk_bk_id_time(line, &t[n]) < 0)
            continue;
        /* the time formats back to the id (years 0-9999 only) */
        time_t tt = (time_t)t[n];
        struct tm tm;
        char back[32];
        if (!gmtime_r(&tt, &tm))
            abort();
        if (tm.tm_year + 1900 >= 1000 &&
            (strftime(back, sizeof back, "%Y%m%dT%H%M%S", &tm) != 15 || memcmp(back, line, 15)))
            abort();
        n++;
    }
    free(s);
    qsort(t, n, sizeof *t, cmp64);
    struct vk_bk_verdict v[MAXN], w[MAXN];
    vk_bk_retain(t, n, &p, v);
    unsigned long count[VK_BK_NRULES] = { 0 };
    int why[MAXN];
    for (size_t i = 0; i < n; i++) {
        if (v[i].rule < -1 || v[i].rule >= VK_BK_NRULES)
            abort();
        if (v[i].rule < 0)
            continue;
        if (++count[v[i].rule] > p.keep[v[i].rule] || !v[i].nth || v[i].nth > p.keep[v[i].rule])
            abort();
        kt[k] = t[i];
        why[k++] = v[i].rule;
    }
    if (n && any && v[n - 1].rule < 0)
        abort();
    vk_bk_retain(kt, k, &p, w);
    for (size_t i = 0; i < k; i++)
        if (w[i].rule != why[i])
            abort();
    vk_error_clear();
    return 0;
}
