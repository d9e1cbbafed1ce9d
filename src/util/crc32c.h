/* CRC-32C (Castagnoli), the checksum of VHDX headers, region tables and
 * log entries ([MS-VHDX] 2.2.2). */
#ifndef VK_UTIL_CRC32C_H
#define VK_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue the CRC-32C crc over len bytes of buf: start with crc
 * 0xffffffff and invert the result, as vk_crc32c() does. */
uint32_t vk_crc32c_update(uint32_t crc, const void *buf, size_t len);

/* The CRC-32C of len bytes at buf (iSCSI/VHDX/ext4 convention). */
uint32_t vk_crc32c(const void *buf, size_t len);

#endif
