#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <sys/mman.h>
#include "CShims.h"

int flashsale_start_writeback(int fd, int64_t offset, int64_t length) {
#if defined(__linux__)
    return sync_file_range(fd, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}

// Hardware CRC-32C. The instruction computes exactly the reflected Castagnoli CRC step that the
// software table walk in CRC32C.swift computes, so both give the same value for the same bytes.
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

int flashsale_crc32c_hw_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

__attribute__((target("sse4.2")))
uint32_t flashsale_crc32c_hw(uint32_t crc, const void *p, size_t count) {
    const unsigned char *b = (const unsigned char *)p;
    uint64_t c = (uint32_t)~crc;
    // One 8-byte step per instruction (latency 3 cycles): several GB/s, far above the LZ4 stage.
    while (count >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);  // unaligned load
        c = _mm_crc32_u64(c, w);
        b += 8;
        count -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (count > 0) {
        c32 = _mm_crc32_u8(c32, *b++);
        count--;
    }
    return ~c32;
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#include <asm/hwcap.h>
#include <arm_acle.h>

int flashsale_crc32c_hw_available(void) {
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) ? 1 : 0;
}

__attribute__((target("crc")))
uint32_t flashsale_crc32c_hw(uint32_t crc, const void *p, size_t count) {
    const unsigned char *b = (const unsigned char *)p;
    uint32_t c = ~crc;
    while (count >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        c = __crc32cd(c, w);
        b += 8;
        count -= 8;
    }
    while (count > 0) {
        c = __crc32cb(c, *b++);
        count--;
    }
    return ~c;
}

#else
int flashsale_crc32c_hw_available(void) { return 0; }
uint32_t flashsale_crc32c_hw(uint32_t crc, const void *p, size_t count) {
    (void)p; (void)count;
    return crc;  // never called: the Swift side falls back to its table walk
}
#endif

int flashsale_poll_nanos(void *fds, unsigned long count, int64_t timeout_nanos) {
#if defined(__linux__)
    struct timespec ts = { .tv_sec = timeout_nanos / 1000000000, .tv_nsec = timeout_nanos % 1000000000 };
    return ppoll((struct pollfd *)fds, (nfds_t)count, &ts, NULL);
#else
    return poll((struct pollfd *)fds, (nfds_t)count, (int)(timeout_nanos / 1000000));
#endif
}

void *flashsale_map_huge(size_t bytes, void **mapping, size_t *mapping_bytes) {
    const size_t huge = (size_t)2 << 20;
    if (bytes == 0) bytes = 1;
    size_t length = (bytes + huge - 1) / huge * huge + huge;  // room to align the start to 2 MiB
    void *m = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    uintptr_t aligned = ((uintptr_t)m + huge - 1) / huge * huge;
#if defined(MADV_HUGEPAGE)
    (void)madvise((void *)aligned, length - (aligned - (uintptr_t)m), MADV_HUGEPAGE);
#endif
    *mapping = m;
    *mapping_bytes = length;
    return (void *)aligned;
}

void flashsale_prefault(void *p, size_t bytes) {
    if (p == NULL || bytes == 0) return;
    const uintptr_t page = 4096;
    uintptr_t start = (uintptr_t)p, end = start + bytes;
#if defined(MADV_POPULATE_WRITE)
    // Whole pages inside the range only: the kernel faults them in without touching their contents.
    uintptr_t first = (start + page - 1) & ~(page - 1), last = end & ~(page - 1);
    if (last > first && madvise((void *)first, last - first, MADV_POPULATE_WRITE) == 0) {
        if (first > start) ((volatile unsigned char *)p)[0] = ((volatile unsigned char *)p)[0];
        if (end > last) ((volatile unsigned char *)end)[-1] = ((volatile unsigned char *)end)[-1];
        return;
    }
#endif
    // Older kernels (before 5.14): one byte per page, read and written back.
    for (uintptr_t a = start; a < end; a = (a & ~(page - 1)) + page) {
        volatile unsigned char *c = (volatile unsigned char *)a;
        *c = *c;
    }
    ((volatile unsigned char *)end)[-1] = ((volatile unsigned char *)end)[-1];
}

void flashsale_unmap(void *mapping, size_t mapping_bytes) {
    if (mapping != NULL) (void)munmap(mapping, mapping_bytes);
}

int flashsale_open_direct(const char *path, int flags, unsigned int mode) {
#if defined(O_DIRECT)
    return open(path, flags | O_DIRECT | O_CLOEXEC, (mode_t)mode);
#else
    (void)path; (void)flags; (void)mode;
    errno = EINVAL;
    return -1;
#endif
}
