/* Small helpers shared by the FAT and swap drivers: little-endian access,
 * UUIDs as blkid prints them. */
#ifndef VK_FS_FS_UTIL_H
#define VK_FS_FS_UTIL_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t vk_fsu_get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t vk_fsu_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void vk_fsu_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void vk_fsu_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* Parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (any case) into 16 bytes in
 * the order written.  -EINVAL if malformed. No message recorded. */
int vk_fsu_parse_uuid(const char *s, uint8_t out[16]);
/* A random version-4 UUID.  -errno if no random bytes. */
int vk_fsu_random_uuid(uint8_t out[16]);
/* Lowercase dashed form; len >= 37. */
void vk_fsu_format_uuid(const uint8_t u[16], char *buf, size_t len);
/* Fill buf with len random bytes. */
int vk_fsu_random(void *buf, size_t len);

#endif
