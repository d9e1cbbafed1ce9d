/* Unit tests of util/: size parsing and the error contract. */
#include "tap.h"

#include "util/crc32c.h"
#include "util/err.h"
#include "util/size.h"
#include "util/utf16.h"

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
    /* fractions are exact, the part below a byte dropped (qemu-img) */
    CHECK(sz("1.23456789T", 1357421750333ULL), "1.23456789T exact (not 1.07 TiB)");
    CHECK(sz("1.0005K", 1024), "1.0005K drops the fractional byte, as qemu-img");
    CHECK(sz("0.1K", 102) && sz("1.3M", 1363148), "0.1K, 1.3M as qemu-img");
    CHECK(sz("7.5E", 8646911284551352320ULL), "7.5E exact");
    CHECK(sz("1.9999999999999999999999999999999999999E", (2ULL << 60) - 1), "37 fraction digits exact");
    CHECK(sz("8191.99999999999999999P", (1ULL << 63) - 1), "largest size");
    CHECK(sz("1.K", 1024), "empty fraction");
    uint64_t v;
    CHECK(vk_parse_size("8E", &v) == -ERANGE, "8E (2^63) refused");
    CHECK(vk_parse_size("8192P", &v) == -ERANGE, "8192P (2^63) refused");
    CHECK(vk_parse_size("18446744073709551615", &v) == -ERANGE, "2^64-1 refused");
    CHECK(vk_parse_size("1.5", &v) == -EINVAL && vk_parse_size("1.5B", &v) == -EINVAL,
          "a fraction of bytes refused, as qemu-img");
    CHECK(vk_parse_size("1.12345678901234567890123456789012345678901K", &v) == -EINVAL,
          "more than 40 fraction digits refused");
    char hb[32];
    CHECK(!strcmp(vk_human_size(1035264, hb, sizeof hb), "0.987 MiB"), "1011 KiB: %s (no exponent)", hb);
    CHECK(!strcmp(vk_human_size(1048064, hb, sizeof hb), "1 MiB"), "1023.5 KiB: %s", hb);
    CHECK(!strcmp(vk_human_size(1023, hb, sizeof hb), "1023 B"), "bytes exact: %s", hb);
    CHECK(!strcmp(vk_human_size(3ULL << 29, hb, sizeof hb), "1.5 GiB"), "%s", hb);
    CHECK(!strcmp(vk_human_size(UINT64_MAX, hb, sizeof hb), "16 EiB"), "%s", hb);
    int exp_seen = 0;
    for (uint64_t n = 1; n < (1ULL << 62); n = n * 3 / 2 + 1)
        exp_seen += strchr(vk_human_size(n, hb, sizeof hb), 'e') != NULL ||
                    strchr(hb, '+') != NULL;
    for (uint64_t n = 999ULL << 10; n < (1025ULL << 10); n += 37)
        exp_seen += strchr(vk_human_size(n, hb, sizeof hb), 'e') != NULL;
    CHECK(exp_seen == 0, "no exponent anywhere (%d)", exp_seen);
    CHECK(vk_parse_size("", &v) == -EINVAL, "empty string refused");
    CHECK(vk_parse_size("12Q", &v) == -EINVAL, "unknown suffix refused");
    CHECK(strstr(vk_errmsg(), "12Q") != NULL, "message names the input");
    CHECK(vk_parse_size("99999999999E", &v) == -ERANGE, "overflow refused");
    CHECK(vk_parse_size("-1", &v) == -EINVAL, "negative refused");
    vk_error(-EIO, "disk.img: bad");
    vk_error_prefix(-EIO, "ctx: ");
    CHECK(!strcmp(vk_errmsg(), "ctx: disk.img: bad"), "prefix adds context");
    CHECK(!strcmp(vk_errmsg_for(-ENOENT), strerror(ENOENT)), "unrecorded codes fall back to strerror");

    /* UTF-8 <-> UTF-16 (GPT and FAT names): BMP, astral (surrogate pair),
     * and what must be refused. */
    uint16_t u[8];
    char back[32];
    int n = vk_utf8_to_utf16("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", u, 8);
    CHECK(n == 5 && u[0] == 'a' && u[1] == 0xe9 && u[2] == 0x20ac && u[3] == 0xd83d && u[4] == 0xde00,
          "UTF-8 to UTF-16 with a surrogate pair");
    vk_utf16_to_utf8(u, (size_t)n, back, sizeof back);
    CHECK(!strcmp(back, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), "and back");
    CHECK(vk_utf8_to_utf16("abc", u, 2) == -ENAMETOOLONG, "too many units refused");
    CHECK(vk_utf8_to_utf16("\xc0\xaf", u, 8) == -EINVAL, "overlong form refused");
    CHECK(vk_utf8_to_utf16("\xed\xa0\x80", u, 8) == -EINVAL, "encoded surrogate refused");
    CHECK(vk_utf8_to_utf16("\xe2\x82", u, 8) == -EINVAL, "truncated sequence refused");
    uint16_t lone[3] = { 'x', 0xdc00, 'y' };
    vk_utf16_to_utf8(lone, 3, back, sizeof back);
    CHECK(!strcmp(back, "x\xef\xbf\xbdy"), "unpaired surrogate becomes U+FFFD");
    n = vk_utf8_to_utf16("a\xc3\xa9\xe2\x82\xac", u, 8);
    vk_utf16_to_utf8(u, (size_t)n, back, 4);
    CHECK(!strcmp(back, "a\xc3\xa9"), "output cut at a character boundary");
    /* File names keep an unpaired surrogate as its own bytes (WTF-8). */
    vk_utf16_to_name(lone, 3, back, sizeof back);
    CHECK(!strcmp(back, "x\xed\xb0\x80y"), "file name: unpaired surrogate kept as bytes");
    uint16_t pair[2] = { 0xd83d, 0xde00 };
    vk_utf16_to_name(pair, 2, back, sizeof back);
    CHECK(!strcmp(back, "\xf0\x9f\x98\x80"), "file name: a pair is still one character");
    uint32_t c = 0;
    CHECK(vk_utf8_decode("\xe2\x82\xac", &c) == 3 && c == 0x20ac, "decode one character");
    CHECK(vk_utf8_decode("\xe9z", &c) == 0, "decode: a Latin-1 byte is not UTF-8");
    CHECK(vk_utf8_decode("\xed\xb0\x80", &c) == 0, "decode: an encoded surrogate is not UTF-8");
    CHECK(vk_utf8_decode("", &c) == 0, "decode: nothing at the end");
    /* the CRC-32C check value (RFC 3720 B.4 and the usual "123456789") */
    CHECK(vk_crc32c("123456789", 9) == 0xe3069283u, "crc32c check value");
    uint8_t zeros[32] = { 0 };
    CHECK(vk_crc32c(zeros, 32) == 0x8a9136aau, "crc32c of 32 zero bytes (RFC 3720)");
    return tap_done();
}
