/* Unit tests of util/: size parsing and the error contract. */
#include "tap.h"

#include "util/err.h"
#include "util/size.h"

#include <errno.h>
#include <string.h>

static int sz(const char *s, uint64_t want)
{
    uint64_t v = 0;
    return vk_parse_size(s, &v) == 0 && v == want;
}

int main(void)
{
    CHECK(sz("3950M", 4141875200ULL), "3950M is 4141875200 bytes");
    CHECK(sz("4141875200", 4141875200ULL), "plain byte counts");
    CHECK(sz("1440K", 1474560), "1440K floppy");
    CHECK(sz("4G", 4ULL << 30), "4G");
    CHECK(sz("1.5G", 3ULL << 29), "fractions");
    CHECK(sz("2GiB", 2ULL << 30), "GiB suffix");
    CHECK(sz("512b", 512), "B suffix, any case");
    uint64_t v;
    CHECK(vk_parse_size("", &v) == -EINVAL, "empty string refused");
    CHECK(vk_parse_size("12Q", &v) == -EINVAL, "unknown suffix refused");
    CHECK(strstr(vk_errmsg(), "12Q") != NULL, "message names the input");
    CHECK(vk_parse_size("99999999999E", &v) == -ERANGE, "overflow refused");
    CHECK(vk_parse_size("-1", &v) == -EINVAL, "negative refused");
    vk_error(-EIO, "disk.img: bad");
    vk_error_prefix(-EIO, "ctx: ");
    CHECK(!strcmp(vk_errmsg(), "ctx: disk.img: bad"), "prefix adds context");
    CHECK(!strcmp(vk_errmsg_for(-ENOENT), strerror(ENOENT)), "unrecorded codes fall back to strerror");
    return tap_done();
}
