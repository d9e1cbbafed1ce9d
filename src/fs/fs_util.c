/* Helpers shared by the FAT and swap drivers (see fs_util.h). */
#include "fs/fs_util.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int vk_fsu_parse_uuid(const char *s, uint8_t out[16])
{
    int n = 0;
    for (int i = 0; s[i]; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return -EINVAL;
            continue;
        }
        int h = hexval(s[i]);
        if (h < 0 || n >= 32)
            return -EINVAL;
        if (n % 2 == 0)
            out[n / 2] = (uint8_t)(h << 4);
        else
            out[n / 2] |= (uint8_t)h;
        n++;
    }
    return n == 32 ? 0 : -EINVAL;
}

int vk_fsu_random(void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom((char *)buf + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    return 0;
}

int vk_fsu_random_uuid(uint8_t out[16])
{
    int r = vk_fsu_random(out, 16);
    if (r < 0)
        return r;
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40);
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
    return 0;
}

void vk_fsu_format_uuid(const uint8_t u[16], char *buf, size_t len)
{
    snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
             u[13], u[14], u[15]);
}
