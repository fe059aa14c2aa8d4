#ifndef FLASHSALE_CCHECKSUM_H
#define FLASHSALE_CCHECKSUM_H
#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has a CRC-32C instruction that `flashsale_crc32c_hw` uses (x86-64 SSE4.2,
/// AArch64 CRC32 extension), else 0. Decided once at run time, so one binary runs on any CPU.
int flashsale_crc32c_hw_available(void);

/// Continues a CRC-32C (Castagnoli): `crc` is a finished CRC value (0 to start) over earlier
/// bytes, the result covers them and `count` more bytes at `p`. Only call it when
/// `flashsale_crc32c_hw_available()` returned 1.
uint32_t flashsale_crc32c_hw(uint32_t crc, const void *p, size_t count);

#endif
