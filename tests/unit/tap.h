/* Minimal TAP for the C unit tests: CHECK(cond, desc) prints one line;
 * return tap_done() from main. */
#ifndef VK_TESTS_TAP_H
#define VK_TESTS_TAP_H

#include <stdio.h>

static int tap_n, tap_failed;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        tap_n++;                                                             \
        if (cond) {                                                          \
            printf("ok %d - ", tap_n);                                       \
        } else {                                                             \
            tap_failed++;                                                    \
            printf("not ok %d - ", tap_n);                                   \
        }                                                                    \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
        if (!(cond))                                                         \
            printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);  \
    } while (0)

static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
